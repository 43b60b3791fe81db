//! Safe rollout (docs/plugins.md, "Deploying a new version"): `purr
//! replay` of a session's journaled events through a candidate, shadow
//! runs beside the live plugin, and promotion.

mod common;

use std::process::Output;
use std::time::Duration;

use purr::session::State;
use purr::store::Store;
use serde_json::Value;

use common::{PATIENCE, TestConfig, plugin_path, run_purr};

/// `echo` then `probe` in session `s`: echo answers commands, probe
/// writes kv and schedules timers on its own commands.
const ECHO_AND_PROBE: &str = r#"
[plugins.echo]
path = "{echo}"

[plugins.probe]
path = "{probe}"

[sessions.s]
channel = "sim"
plugins = ["echo", "probe"]
"#;

/// What the conversation says; echo answers the commands, probe `kv-set` and `timer`.
const CONVERSATION: [&str; 6] = [
    "!ping",
    "!echo hello there",
    "just chatting",
    "kv-set colour blue",
    "timer 3600000 much later",
    "!hello",
];

/// Everything the replay must leave alone, as text: the kv of both
/// plugins, the timers, the journal with its sends, the outbox.
async fn live_data(config: &TestConfig) -> String {
    let store = Store::open_for(&config.load().host).await.expect("open the database");
    let mut dump = String::new();
    for plugin in ["echo", "probe"] {
        for key in store.kv_list(plugin, "s", "").await.unwrap() {
            let value = store.kv_get(plugin, "s", &key).await.unwrap();
            dump.push_str(&format!("kv {plugin} {key} {value:?}\n"));
        }
    }
    dump.push_str(&format!("timers {:?}\n", store.timers_of_session("s").await.unwrap()));
    dump.push_str(&format!(
        "history {:?}\n",
        store.history_page("s", 0, i64::MAX, 10_000).await.unwrap()
    ));
    dump.push_str(&format!("outbox {:?}\n", store.outbox_pending("s").await.unwrap()));
    dump.push_str(&format!("resume {:?}\n", store.session_resume("s").await.unwrap()));
    store.close().await;
    dump
}

/// `purr replay s --plugin echo=<candidate> <extra…> -c <config>`.
fn replay(config: &TestConfig, candidate: &str, extra: &[&str]) -> Output {
    let swap = format!("echo={}", plugin_path(candidate).display());
    let path = config.path.display().to_string();
    let mut args = vec!["replay", "s", "--plugin", &swap, "-c", &path];
    args.extend_from_slice(extra);
    run_purr(&args, "", |_| {})
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_finds_no_difference_for_the_same_build_names_each_for_a_changed_one_and_touches_nothing() {
    let config = TestConfig::new(ECHO_AND_PROBE);
    let host = config.started().await;
    let mut live_replies = Vec::new();
    for text in CONVERSATION {
        live_replies.extend(host.say("s", text).await);
    }
    assert!(live_replies.contains(&"pong".to_string()), "{live_replies:?}");
    host.stop().await;
    let before = live_data(&config).await;
    assert!(before.contains("colour"), "the conversation stored kv: {before}");
    assert!(before.contains("much later"), "and a timer: {before}");

    let same = replay(&config, "echo", &[]);
    assert_eq!(
        same.status.code(),
        Some(0),
        "{}{}",
        stdout(&same),
        String::from_utf8_lossy(&same.stderr)
    );
    assert!(stdout(&same).contains("0 differing"), "{}", stdout(&same));

    let changed = replay(&config, "tagged-v2", &["--json"]);
    assert_eq!(
        changed.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&changed.stderr)
    );
    let report: Value = serde_json::from_str(&stdout(&changed)).expect("one JSON report");
    // tagged-v2 answers every text with "v2 <text>": each message differs, other events do not.
    assert_eq!(report["differing"], CONVERSATION.len(), "{report:#}");
    assert_eq!(report["failed"], 0);
    let events = report["events"].as_u64().unwrap();
    assert_eq!(report["identical"].as_u64().unwrap() + 6, events);
    let differences = report["differences"].as_array().unwrap();
    let ping = &differences[0];
    assert!(ping["event"].as_str().unwrap().contains("!ping"), "{ping:#}");
    let first = &ping["differences"][0];
    assert_eq!(
        (
            first["kind"].as_str(),
            first["live"].as_str(),
            first["candidate"].as_str()
        ),
        (Some("text"), Some("pong"), Some("v2 !ping")),
        "{ping:#}"
    );
    let chatting = differences
        .iter()
        .find(|d| d["event"].as_str().unwrap().contains("just chatting"))
        .expect("the plain message differs too");
    assert_eq!(
        chatting["differences"][0]["kind"], "extra",
        "echo said nothing, v2 answered: {chatting:#}"
    );

    let text = replay(&config, "tagged-v2", &["--last", "2"]);
    assert_eq!(text.status.code(), Some(1));
    let out = stdout(&text);
    assert!(
        out.contains("timer 3600000 much later") && out.contains("!hello"),
        "{out}"
    );
    assert!(!out.contains("!ping"), "only the newest two events: {out}");
    assert!(out.contains("replayed 2 event(s)"), "{out}");

    assert_eq!(live_data(&config).await, before, "a replay changes no live data");
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_of_an_unknown_plugin_or_session_fails_with_status_2() {
    let config = TestConfig::new(ECHO_AND_PROBE);
    let host = config.started().await;
    host.say("s", "!ping").await;
    host.stop().await;
    let path = config.path.display().to_string();
    let swap = format!("guard={}", plugin_path("echo").display());
    let output = run_purr(&["replay", "s", "--plugin", &swap, "-c", &path], "", |_| {});
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("does not run plugin \"guard\""),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let swap = format!("echo={}", plugin_path("echo").display());
    let output = run_purr(&["replay", "nobody", "--plugin", &swap, "-c", &path], "", |_| {});
    assert_eq!(output.status.code(), Some(2));
}

/// Echo in sessions `s` and `t`, with `shadow` as its candidate.
fn shadowed(shadow: &str, timeout_ms: u64) -> String {
    format!(
        r#"
[plugins.echo]
path = "{{echo}}"
timeout_ms = {timeout_ms}
shadow = "{{{shadow}}}"

[sessions.s]
channel = "sim"
plugins = ["echo"]

[sessions.t]
channel = "sim"
plugins = ["echo"]
"#
    )
}

/// Waits until the shadow of `echo` has seen `events` events (compared or dropped).
async fn shadow_settled(host: &common::Host, events: u64) -> purr::rollout::shadow::ShadowStatus {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let status = host.plugin("echo").shadow.expect("echo has a shadow");
        if status.compared + status.dropped >= events {
            return status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the shadow saw {} of {events} events",
            status.compared + status.dropped
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends `n` numbered `!echo` messages to each of `sessions` without
/// waiting for replies, then waits for all of them to be handled.
async fn traffic(host: &common::Host, sessions: &[&str], n: usize, extra: &str) {
    for i in 0..n {
        for session in sessions {
            let text = if i % 2 == 1 && !extra.is_empty() {
                extra.to_string()
            } else {
                format!("!echo {i}")
            };
            host.supervisor
                .sim()
                .inject_text(session, "user", &text)
                .await
                .expect("inject");
        }
    }
    for session in sessions {
        host.supervisor.flush(session).await.expect("flush");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_differing_shadow_is_counted_and_shown_while_live_replies_stay_the_live_plugins() {
    let config = TestConfig::new(&shadowed("tagged-v2", 1000));
    let host = config.started().await;
    traffic(&host, &["s", "t"], 20, "").await;
    // Each session's echo saw `started`, `connected` and the 20 messages.
    let status = shadow_settled(&host, 2 * 22).await;
    assert_eq!(status.dropped, 0, "a calm candidate keeps up");
    assert_eq!(
        (status.compared, status.differing, status.identical),
        (44, 40, 4),
        "{status:#?}"
    );
    assert_eq!(status.candidate_errors, 0);
    let last = status.recent.last().expect("recent differences");
    assert_eq!(status.recent.len(), purr::rollout::shadow::RECENT);
    assert!(last.event_id.starts_with('j') && last.kind == "message", "{last:?}");
    for session in ["s", "t"] {
        let expected: Vec<String> = (0..20).map(|i| i.to_string()).collect();
        assert_eq!(
            host.sent(session),
            expected,
            "live replies are echo's, once each, in order"
        );
    }
    assert_eq!(
        host.metric(
            "purr_shadow_events_total",
            &[("plugin", "echo"), ("result", "differing")]
        ),
        40.0
    );
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trapping_or_looping_shadow_harms_no_live_event() {
    use purr::rollout::compare::{Difference, RunEnd};
    // unruly fails on every event as its `mode` says: it traps, or spins to
    // its deadline (100 ms, the live entry's: the candidate inherits it, and
    // its `mode` from echo's config, which echo ignores).
    for mode in ["trap", "loop"] {
        let config = TestConfig::new(&format!(
            "{}\n[plugins.echo.config]\nmode = \"{mode}\"\n",
            shadowed("unruly", 100)
        ));
        let host = config.started().await;
        // Every other message is chatter echo does not answer: there the
        // live plugin did nothing, and the candidate's failure still differs.
        traffic(&host, &["s", "t"], 40, "just chatting").await;
        for session in ["s", "t"] {
            let expected: Vec<String> = (0..40).step_by(2).map(|i| i.to_string()).collect();
            assert_eq!(host.sent(session), expected, "{mode}: every live reply once, in order");
        }
        // Each session's echo saw `started`, `connected` and the 40 messages;
        // a session's queue holds them all, so none is dropped for want of
        // room. The candidate fails on each it runs; after three traps in a
        // row it backs off, and what is offered meanwhile is dropped, counted.
        const _: () = assert!(42 <= purr::rollout::shadow::QUEUE);
        let status = shadow_settled(&host, 2 * 42).await;
        assert_eq!(status.compared + status.dropped, 84, "{mode}: {status:#?}");
        assert!(
            status.compared >= 2 * 3,
            "{mode}: three tries per session at least: {status:#?}"
        );
        assert!(status.dropped > 0, "{mode}: the candidate backed off: {status:#?}");
        assert_eq!(
            (status.candidate_errors, status.differing, status.identical),
            (status.compared, status.compared, 0),
            "{mode}: every event it ran failed and differs: {status:#?}"
        );
        assert_eq!(
            status.recent.len(),
            (status.compared as usize).min(purr::rollout::shadow::RECENT)
        );
        for difference in &status.recent {
            let Some(Difference::End {
                live: RunEnd::Handled { stopped: false },
                candidate: RunEnd::Failed { error, .. },
            }) = difference.differences.last()
            else {
                panic!("{mode}: the runs end differently: {difference:#?}");
            };
            assert_eq!(error.contains("deadline exceeded"), mode == "loop", "{mode}: {error}");
        }
        host.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn promote_switches_live_replies_to_the_candidate_without_losing_a_message() {
    let config = TestConfig::new(&shadowed("tagged-v2", 1000));
    let host = config.started().await;
    let sender = {
        let supervisor = host.supervisor.clone();
        tokio::spawn(async move {
            for i in 0..300 {
                supervisor
                    .sim()
                    .inject_text("s", "user", &format!("!echo {i}"))
                    .await
                    .expect("inject");
                if i % 50 == 0 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    let promoted = host.supervisor.promote("echo").await.expect("promote");
    assert_eq!(promoted.path, plugin_path("tagged-v2"));
    assert!(promoted.shadow.is_none(), "the shadow is gone once promoted");
    sender.await.unwrap();
    host.supervisor.flush("s").await.unwrap();
    let replies = host.sent("s");
    assert_eq!(replies.len(), 300, "one reply per message");
    let switched = replies
        .iter()
        .position(|r| r.starts_with("v2 "))
        .expect("the candidate serves after promote");
    for (i, reply) in replies.iter().enumerate() {
        let expected = if i < switched {
            i.to_string()
        } else {
            format!("v2 !echo {i}")
        };
        assert_eq!(reply, &expected, "in order, each once, never back to the old version");
    }
    // A later reload trigger keeps the promoted version (the config in force names it).
    host.supervisor.reload_plugin("echo").await.expect("reload");
    assert_eq!(host.say("s", "!ping").await, ["v2 !ping"]);
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn shadows_attach_detach_and_refuse_what_cannot_load() {
    let config = TestConfig::new(common::ECHO_ALONE);
    let host = config.started().await;
    let supervisor = &host.supervisor;
    assert!(matches!(
        supervisor.promote("echo").await,
        Err(purr::supervisor::RolloutError::NoShadow(_))
    ));
    let missing = config.dir.path().join("missing.wasm");
    assert!(matches!(
        supervisor.attach_shadow("echo", missing).await,
        Err(purr::supervisor::RolloutError::Load(_))
    ));
    assert!(host.plugin("echo").shadow.is_none(), "nothing attached");
    let status = supervisor
        .attach_shadow("echo", plugin_path("tagged-v2"))
        .await
        .expect("attach");
    assert_eq!(status.compared, 0);
    assert_eq!(host.say("s", "!ping").await, ["pong"], "the live plugin answers");
    shadow_settled(&host, 1).await;
    assert!(supervisor.detach_shadow("echo").await.unwrap());
    assert!(host.plugin("echo").shadow.is_none());
    assert!(!supervisor.detach_shadow("echo").await.unwrap(), "nothing left to drop");
    assert_eq!(supervisor.status("s").unwrap().state, State::Connected);
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_promotion_survives_config_edits_elsewhere_until_the_file_changes_its_entry() {
    let body = shadowed("tagged-v2", 1000);
    let config = TestConfig::new(&body);
    let host = config.started().await;
    host.supervisor.promote("echo").await.expect("promote");
    assert_eq!(host.say("s", "!ping").await, ["v2 !ping"]);

    // Another session added: echo's entry in the file is as it was.
    config.write(&format!(
        "{body}\n[sessions.u]\nchannel = \"sim\"\nplugins = [\"echo\"]\n"
    ));
    let report = host.supervisor.reconfigure(config.load()).await.expect("reconfigure");
    assert_eq!(report.sessions_added, ["u"]);
    assert_eq!(host.say("s", "!ping").await, ["v2 !ping"], "the promotion stays");
    assert!(
        host.plugin("echo").shadow.is_none(),
        "and the promoted shadow does not come back"
    );

    // The file changes echo's entry: the file wins.
    config.write(&body.replace("timeout_ms = 1000", "timeout_ms = 900"));
    host.supervisor.reconfigure(config.load()).await.expect("reconfigure");
    assert_eq!(host.say("s", "!ping").await, ["pong"], "the file's path serves again");
    assert!(host.plugin("echo").shadow.is_some(), "with the file's shadow");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shadow_of_a_plugin_only_run_time_sessions_use_outlives_reload_triggers() {
    let config = TestConfig::new(common::ECHO_ALONE);
    let host = config.started().await;
    let created = host
        .supervisor
        .create(purr::supervisor::NewSession {
            name: "r".into(),
            channel: "sim".into(),
            plugins: vec!["echo".into()],
            autostart: true,
        })
        .await
        .expect("create");
    assert_eq!(created.plugins, ["echo"]);
    // The config drops echo (and its session); the run-time session keeps it loaded.
    config.write("");
    host.supervisor.reconfigure(config.load()).await.expect("reconfigure");
    host.supervisor
        .attach_shadow("echo", plugin_path("tagged-v2"))
        .await
        .expect("attach");
    host.supervisor.reload_plugin("echo").await.expect("reload");
    assert!(
        host.plugin("echo").shadow.is_some(),
        "no config entry: nothing says the shadow should go"
    );
    host.stop().await;
}
