//! The session lifecycle of the multi-session model, row by row:
//! connect, start, disconnect, destroy, list, stop.

mod common;

use common::TestConfig;
use purr::session::State;

const ONE_SESSION: &str = r#"
[plugins.probe]
path = "{probe}"
linking_codes = true

[sessions.acct]
channel = "sim"
plugins = ["probe"]
"#;

#[tokio::test]
async fn connect_prepares_without_touching_the_network() {
    let config = TestConfig::new(ONE_SESSION);
    let host = config.host().await;
    host.supervisor.connect("acct").await.unwrap();
    assert!(host.supervisor.is_running("acct").await.unwrap());
    assert_eq!(host.supervisor.status("acct").unwrap().state, State::Stopped);
    assert!(!host.supervisor.sim().is_online("acct"));
    assert_eq!(host.supervisor.store().sim_pairing("acct").await.unwrap(), None);
    host.stop().await;
}

#[tokio::test]
async fn a_new_account_shows_a_qr_then_links_and_plugins_see_every_event() {
    let config = TestConfig::new(ONE_SESSION);
    let host = config.host().await;
    let mut changes = Vec::new();
    let mut status = host.supervisor.wait_for("acct", |_| true).await.unwrap();
    let watcher = {
        let supervisor = host.supervisor.clone();
        tokio::spawn(async move { supervisor.wait_for("acct", |s| s.state == State::ScanQr).await.unwrap() })
    };
    host.supervisor.start("acct").await.unwrap();
    let scanning = watcher.await.unwrap();
    assert!(scanning.qr.as_ref().unwrap().code.starts_with("sim-qr:acct:"));
    changes.push(scanning.state);
    host.wait_state("acct", State::Connected).await;
    status = host.supervisor.status("acct").unwrap_or(status);
    assert_eq!(status.jid.as_deref(), Some("acct@sim"));
    assert_eq!(status.qr, None, "the QR is gone once linked");
    // The plugin was there before the QR: nothing was missed.
    assert_eq!(host.say("acct", "events").await, ["started,qr,connected"]);
    host.stop().await;
}

/// A linking code links the account to whoever uses it first, and a plugin
/// may reach the network: only plugins that ask (`linking_codes = true`)
/// get `qr` and `pair-code` events.
#[tokio::test]
async fn plugins_see_linking_codes_only_when_configured() {
    let config = TestConfig::new(&ONE_SESSION.replace("linking_codes = true\n", ""));
    let host = config.host().await;
    host.supervisor.start("acct").await.unwrap();
    host.wait_state("acct", State::Connected).await;
    assert_eq!(host.say("acct", "events").await, ["started,connected"]);
    host.stop().await;
}

#[tokio::test]
async fn disconnect_keeps_auth_frees_the_task_and_reconnects_without_qr() {
    let config = TestConfig::new(ONE_SESSION);
    let host = config.started().await;
    assert_eq!(host.say("acct", "session").await, ["acct"]);
    assert_eq!(host.supervisor.live_instances("acct").unwrap(), 1);

    host.supervisor.disconnect("acct").await.unwrap();
    assert_eq!(host.supervisor.status("acct").unwrap().state, State::Stopped);
    assert!(!host.supervisor.is_running("acct").await.unwrap(), "task freed");
    assert_eq!(host.supervisor.live_instances("acct").unwrap(), 0, "instances freed");
    assert!(!host.supervisor.sim().is_online("acct"));
    assert!(host.supervisor.sim().inject_text("acct", "user", "hi").await.is_err());

    host.supervisor.start("acct").await.unwrap();
    host.wait_state("acct", State::Connected).await;
    // A fresh instance saw no QR this time.
    assert_eq!(host.say("acct", "events").await, ["started,connected"]);
    host.stop().await;
}

#[tokio::test]
async fn destroy_logs_out_deletes_auth_and_needs_a_new_qr() {
    let config = TestConfig::new(ONE_SESSION);
    let host = config.started().await;
    host.say("acct", "timer 60000 later").await;
    host.say("acct", "kv-set keep me").await;

    host.supervisor.destroy("acct").await.unwrap();
    let status = host.supervisor.status("acct").unwrap();
    assert_eq!(status.state, State::LoggedOut);
    assert_eq!(status.jid, None);
    assert!(!host.supervisor.is_running("acct").await.unwrap());
    let store = host.supervisor.store();
    assert_eq!(store.sim_pairing("acct").await.unwrap(), None, "auth deleted");
    assert_eq!(store.timers_count("acct", "probe").await.unwrap(), 0, "timers deleted");
    assert_eq!(store.session_get("acct").await.unwrap().unwrap().jid, None);

    host.supervisor.start("acct").await.unwrap();
    host.wait_state("acct", State::Connected).await;
    assert_eq!(host.say("acct", "events").await, ["started,qr,connected"]);
    assert_eq!(host.say("acct", "kv-get keep").await, ["me"], "bot data is not auth");
    host.stop().await;
}

#[tokio::test]
async fn destroy_of_a_stopped_session_still_deletes_its_auth() {
    let config = TestConfig::new(ONE_SESSION);
    let host = config.started().await;
    host.stop().await;

    let host = config.host().await;
    assert_eq!(
        host.supervisor.store().sim_pairing("acct").await.unwrap().as_deref(),
        Some("acct@sim")
    );
    host.supervisor.destroy("acct").await.unwrap();
    assert_eq!(host.supervisor.store().sim_pairing("acct").await.unwrap(), None);
    assert_eq!(host.supervisor.status("acct").unwrap().state, State::LoggedOut);
    host.stop().await;
}

#[tokio::test]
async fn a_restarted_host_reconnects_stored_accounts_without_qr() {
    let config = TestConfig::new(ONE_SESSION);
    let host = config.started().await;
    host.stop().await;

    let host = config.started().await;
    assert_eq!(host.say("acct", "events").await, ["started,connected"]);
    assert_eq!(host.supervisor.status("acct").unwrap().jid.as_deref(), Some("acct@sim"));
    host.stop().await;
}

#[tokio::test]
async fn list_shows_every_session_with_status() {
    let config = TestConfig::new(
        r#"
[plugins.echo]
path = "{echo}"

[sessions.listener]
channel = "sim"
plugins = ["echo"]

[sessions.sender]
channel = "sim"
autostart = false
"#,
    );
    let host = config.host().await;
    host.supervisor.start_autostart().await;
    host.wait_state("listener", State::Connected).await;
    let list = host.supervisor.list().await.unwrap();
    let summary: Vec<_> = list
        .iter()
        .map(|s| (s.name.as_str(), s.status, s.connected, s.jid.as_deref()))
        .collect();
    assert_eq!(
        summary,
        [
            ("listener", State::Connected, true, Some("listener@sim")),
            ("sender", State::Stopped, false, None)
        ]
    );
    assert_eq!(list[0].plugins, ["echo"]);
    assert!(list[1].plugins.is_empty(), "a send-only account has an empty chain");
    host.stop().await;
}

#[tokio::test]
async fn unknown_sessions_are_refused() {
    let config = TestConfig::new(ONE_SESSION);
    let host = config.host().await;
    let error = host.supervisor.start("nope").await.unwrap_err();
    assert!(
        error.downcast_ref::<purr::supervisor::UnknownSession>().is_some(),
        "{error:#}"
    );
    host.stop().await;
}

#[tokio::test]
async fn stop_drains_queued_events_before_exiting() {
    let config = TestConfig::new(
        r#"
[plugins.echo]
path = "{echo}"

[sessions.busy]
channel = "sim"
plugins = ["echo"]
"#,
    );
    let host = config.started().await;
    let sim = host.supervisor.sim().clone();
    for i in 0..300 {
        sim.inject_text("busy", "user", &format!("!echo {i}")).await.unwrap();
    }
    // No flush: stop itself must handle everything already queued.
    host.stop().await;
    let texts: Vec<String> = sim
        .outbound("busy")
        .iter()
        .filter_map(|o| o.action.text().map(String::from))
        .collect();
    assert_eq!(texts, (0..300).map(|i| i.to_string()).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_single_session_config_gets_the_default_session() {
    let config = TestConfig::new(
        r#"
[plugins.echo]
path = "{echo}"

[session]
channel = "sim"
plugins = ["echo"]
"#,
    );
    let host = config.started().await;
    assert_eq!(host.say("default", "!ping").await, ["pong"]);
    host.stop().await;
}
