//! The sandbox: a misbehaving plugin (loop, memory bomb, stack overflow,
//! trap, send/kv/timer flood) costs only its own session's current event.
//! Its session's next events still run, another session answers every
//! message meanwhile, and the host stays up.

mod common;

use std::time::Duration;

use common::{Host, PATIENCE, TestConfig};
use purr::plugin::PluginHealth;

const HOSTILE_AND_CALM: &str = r#"
[plugins.hostile]
path = "{hostile}"
timeout_ms = 300
memory_mb = 16
max_kv_bytes = 20000
max_timers = 5

[plugins.echo]
path = "{echo}"

[sessions.bad]
channel = "sim"
plugins = ["hostile"]
sends_per_minute = 10

[sessions.calm]
channel = "sim"
plugins = ["echo"]
"#;

/// Sends `command` to the hostile session and, while it runs, pings the
/// calm one; every ping must be answered.
async fn misbehave_beside_calm(host: &Host, command: &str) {
    host.supervisor
        .sim()
        .inject_text("bad", "user", command)
        .await
        .expect("inject");
    for _ in 0..5 {
        assert_eq!(
            host.say("calm", "!ping").await,
            ["pong"],
            "calm session while bad ran {command}"
        );
    }
    host.supervisor.flush("bad").await.expect("bad session still runs");
}

#[tokio::test]
async fn each_kind_of_crash_costs_only_the_current_event() {
    let config = TestConfig::new(HOSTILE_AND_CALM);
    let host = config.started().await;
    let crashes = [
        ("loop", "deadline exceeded: still running after 300 ms"),
        ("bomb", "forcing trap when growing memory"),
        ("recurse", "call stack exhausted"),
        ("unreachable", "unreachable"),
        ("oob", "out of bounds memory access"),
    ];
    for (done, (command, cause)) in crashes.into_iter().enumerate() {
        misbehave_beside_calm(&host, command).await;
        let status = host.plugin("hostile");
        assert_eq!(status.traps, done as u64 + 1, "{command} should have trapped");
        let last_error = status.last_error.unwrap_or_default();
        assert!(
            last_error.starts_with("in session bad: plugin trapped: ") && last_error.contains(cause),
            "{command}: {last_error}"
        );
        assert_eq!(
            host.supervisor.live_instances("bad").unwrap(),
            0,
            "trapped instance dropped"
        );
        assert_eq!(host.say("bad", "ok").await, ["alive"], "next event after {command}");
    }
    assert_eq!(host.plugin("hostile").health, PluginHealth::Ready);
    host.stop().await;
}

#[tokio::test]
async fn a_crash_looping_plugin_backs_off_shows_failed_and_recovers() {
    let config = TestConfig::new(HOSTILE_AND_CALM);
    let host = config.started().await;
    for _ in 0..3 {
        assert!(host.say("bad", "unreachable").await.is_empty());
    }
    let status = host.plugin("hostile");
    assert_eq!(status.health, PluginHealth::Failed);
    let last_error = status.last_error.expect("last error shown");
    assert!(
        last_error.contains("in session bad") && last_error.contains("unreachable"),
        "{last_error}"
    );
    // While it backs off, events fail at once without running it.
    assert!(host.say("bad", "unreachable").await.is_empty());
    assert_eq!(host.plugin("hostile").traps, 3, "no new instance during the pause");
    assert_eq!(host.say("calm", "!ping").await, ["pong"]);

    // After the pause a good event runs on a fresh instance and clears the failure.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while host.say("bad", "ok").await != ["alive"] {
        assert!(tokio::time::Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(host.plugin("hostile").health, PluginHealth::Ready);
    host.stop().await;
}

#[tokio::test]
async fn a_send_flood_is_cut_at_the_session_quota() {
    let config = TestConfig::new(HOSTILE_AND_CALM);
    let host = config.started().await;
    misbehave_beside_calm(&host, "flood 1000").await;
    let outcome = host
        .supervisor
        .store()
        .kv_get("hostile", "bad", "flood")
        .await
        .unwrap()
        .expect("the plugin recorded its flood");
    let outcome = String::from_utf8(outcome).unwrap();
    assert!(
        outcome.starts_with("10 send-text: send quota: this session may make 10 messaging calls per minute"),
        "{outcome}"
    );
    let sent = host.supervisor.sim().outbound("bad");
    assert_eq!(sent.len(), 10, "only the quota reached the network");
    assert_eq!(
        host.say("calm", "!ping").await,
        ["pong"],
        "other sessions have their own quota"
    );
    host.stop().await;
}

#[tokio::test]
async fn kv_and_timer_floods_are_refused_at_their_quotas() {
    let config = TestConfig::new(HOSTILE_AND_CALM);
    let host = config.started().await;
    // 20000 bytes hold 19 entries of a 13-byte key and a 1 KiB value.
    let answer = host.say("bad", "kv-flood").await;
    assert_eq!(answer.len(), 1);
    assert!(
        answer[0].starts_with("19 kv quota: storing this would use 20740 bytes, over the 20000 byte limit"),
        "{answer:?}"
    );
    assert_eq!(
        host.supervisor.store().kv_usage("hostile", "bad").await.unwrap(),
        19 * 1037
    );
    assert_eq!(
        host.say("bad", "timer-flood").await,
        ["5 timers quota: 5 timers already pending"]
    );
    assert_eq!(host.supervisor.store().timers_count("bad", "hostile").await.unwrap(), 5);
    assert_eq!(host.say("calm", "!ping").await, ["pong"]);
    host.stop().await;
}

#[tokio::test]
async fn an_instance_is_recycled_after_max_calls() {
    let config = TestConfig::new(
        r#"
[plugins.probe]
path = "{probe}"
max_calls = 4
linking_codes = true

[sessions.s]
channel = "sim"
plugins = ["probe"]
"#,
    );
    let host = config.started().await;
    // `events` lists the non-message events this instance saw. Calls 1-3
    // are started, qr, connected; the 4th is this `events`.
    assert_eq!(host.say("s", "events").await, ["started,qr,connected"]);
    assert_eq!(
        host.supervisor.live_instances("s").unwrap(),
        0,
        "worn out after 4 calls"
    );
    assert_eq!(host.say("s", "events").await, ["(none)"], "a fresh instance");
    host.stop().await;
}

#[tokio::test]
async fn an_idle_sessions_instances_are_dropped_and_made_again_on_the_next_event() {
    let config = TestConfig::new(
        r#"
[plugins.echo]
path = "{echo}"
idle_ms = 100

[plugins.probe]
path = "{probe}"
idle_ms = 0
linking_codes = true

[sessions.idle]
channel = "sim"
plugins = ["echo"]

[sessions.kept]
channel = "sim"
plugins = ["probe"]
"#,
    );
    let host = config.started().await;
    assert_eq!(host.say("idle", "!count").await, ["1"]);
    let released = async {
        while host.supervisor.live_instances("idle").unwrap() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(PATIENCE, released)
        .await
        .expect("the idle instance is dropped");
    assert_eq!(host.say("idle", "!count").await, ["2"], "a new instance, the same data");
    assert_eq!(host.supervisor.live_instances("idle").unwrap(), 1);
    // With `idle_ms = 0` the instance stays: it still remembers the events
    // it saw, long after the other session's was dropped.
    assert_eq!(host.say("kept", "events").await, ["started,qr,connected"]);
    assert_eq!(host.supervisor.live_instances("kept").unwrap(), 1);
    host.stop().await;
}

#[tokio::test]
async fn with_every_instance_slot_taken_idle_sessions_give_theirs_back() {
    let config = TestConfig::with_host(
        "max_instances = 1",
        r#"
[plugins.echo]
path = "{echo}"

[sessions.first]
channel = "sim"
plugins = ["echo"]

[sessions.second]
channel = "sim"
plugins = ["echo"]
"#,
    );
    let host = config.started().await;
    // Both have handled their start-up events (and passed the slot between them).
    host.supervisor.flush("first").await.unwrap();
    host.supervisor.flush("second").await.unwrap();
    let live = |session| host.supervisor.live_instances(session).unwrap();
    assert_eq!(host.say("first", "!ping").await, ["pong"]);
    assert_eq!((live("first"), live("second")), (1, 0), "first holds the only slot");
    assert_eq!(host.say("second", "!ping").await, ["pong"], "first, idle, gave it back");
    assert_eq!((live("first"), live("second")), (0, 1));
    assert_eq!(host.say("first", "!ping").await, ["pong"], "and back again");
    assert_eq!(host.plugin("echo").traps, 0, "no room is not the plugin's fault");
    host.stop().await;
}
