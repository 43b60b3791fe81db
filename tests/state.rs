//! Plugin state: kv is private to (plugin, session) and, like timers,
//! survives a restart of the host.

mod common;

use std::time::Duration;

use common::{PATIENCE, TestConfig};

const TWO_PROBES: &str = r#"
[plugins.probe]
path = "{probe}"

[plugins.other]
path = "{probe}"

[plugins.echo]
path = "{echo}"

[sessions.one]
channel = "sim"
plugins = ["probe", "echo"]

[sessions.two]
channel = "sim"
plugins = ["probe"]

[sessions.three]
channel = "sim"
plugins = ["other"]
"#;

#[tokio::test]
async fn kv_is_private_to_each_plugin_in_each_session() {
    let config = TestConfig::new(TWO_PROBES);
    let host = config.started().await;

    assert_eq!(host.say("one", "kv-set color red").await, ["ok"]);
    assert_eq!(host.say("two", "kv-get color").await, ["(none)"], "another session");
    assert_eq!(
        host.say("three", "kv-get color").await,
        ["(none)"],
        "another plugin (same code)"
    );
    assert_eq!(host.say("two", "kv-set color blue").await, ["ok"]);
    assert_eq!(host.say("one", "kv-get color").await, ["red"]);
    assert_eq!(host.say("two", "kv-get color").await, ["blue"]);

    // Echo's counter in session one lives beside probe's keys, invisible to it.
    host.say("one", "!count").await;
    assert_eq!(host.say("one", "kv-list ").await, ["color"]);
    assert_eq!(host.say("one", "kv-del color").await, ["true"]);
    assert_eq!(host.say("one", "kv-get color").await, ["(none)"]);
    assert_eq!(host.say("two", "kv-get color").await, ["blue"]);
    host.stop().await;
}

/// PostgreSQL text cannot hold NUL: a kv key with one would have failed the
/// writer's batch and stopped it for every session. It is refused, on both
/// backends alike, and only that call fails.
#[tokio::test]
async fn a_kv_key_with_nul_is_refused_and_harms_nothing_else() {
    let config = TestConfig::new(TWO_PROBES);
    let host = config.started().await;
    assert!(
        host.say("one", "kv-set a\0b red").await.is_empty(),
        "the handler failed"
    );
    let dead = host.supervisor.store().dead_letters(Some("one")).await.unwrap();
    assert!(dead[0].error.contains("may not contain NUL"), "{dead:?}");
    assert_eq!(host.say("one", "kv-set color red").await, ["ok"]);
    assert_eq!(host.say("one", "kv-list ").await, ["color"]);
    assert_eq!(host.supervisor.store().writer().failure(), None);
    host.stop().await;
}

#[tokio::test]
async fn echo_counts_per_chat_and_the_count_survives_a_restart() {
    let config = TestConfig::new(TWO_PROBES);
    let host = config.started().await;
    assert_eq!(host.say_as("one", "alice", "hello").await, Vec::<String>::new());
    assert_eq!(host.say_as("one", "alice", "!count").await, ["2"]);
    assert_eq!(host.say_as("one", "bob", "!count").await, ["1"], "another chat");
    host.stop().await;

    let host = config.started().await;
    assert_eq!(host.say_as("one", "alice", "!count").await, ["3"]);
    host.stop().await;
}

#[tokio::test]
async fn a_timer_fires_into_its_session_and_plugin() {
    let config = TestConfig::new(TWO_PROBES);
    let host = config.started().await;
    assert_eq!(host.say_as("two", "carol", "timer 50 wake up").await, ["scheduled"]);
    let fired = wait_for_text(&host, "two", "timer: wake up").await;
    assert_eq!(
        fired.action,
        purr::channel::Outbound::Text {
            chat: "carol@sim".into(),
            text: "timer: wake up".into()
        }
    );
    // Only the scheduling plugin's session heard it.
    assert!(host.supervisor.sim().outbound("three").is_empty());
    // A fired timer is gone: cancelling finds nothing.
    assert_eq!(host.say("two", "cancel-all").await, ["cancelled 0"]);
    host.stop().await;
}

#[tokio::test]
async fn a_cancelled_timer_never_fires() {
    let config = TestConfig::new(TWO_PROBES);
    let host = config.started().await;
    assert_eq!(host.say("two", "timer 300 never").await, ["scheduled"]);
    assert_eq!(host.say("two", "cancel-all").await, ["cancelled 1"]);
    // Schedule a later marker and wait for it: the cancelled one would have fired first.
    host.say("two", "timer 400 marker").await;
    wait_for_text(&host, "two", "timer: marker").await;
    assert!(
        !host
            .supervisor
            .sim()
            .outbound("two")
            .iter()
            .any(|o| o.action.text() == Some("timer: never"))
    );
    host.stop().await;
}

#[tokio::test]
async fn a_pending_timer_survives_a_restart() {
    let config = TestConfig::new(TWO_PROBES);
    let host = config.started().await;
    assert_eq!(
        host.say_as("two", "dave", "timer 1500 after restart").await,
        ["scheduled"]
    );
    host.stop().await;

    let host = config.started().await;
    let fired = wait_for_text(&host, "two", "timer: after restart").await;
    assert_eq!(
        fired.action,
        purr::channel::Outbound::Text {
            chat: "dave@sim".into(),
            text: "timer: after restart".into()
        }
    );
    host.stop().await;
}

/// Waits (bounded) for `session` to send `text`.
async fn wait_for_text(host: &common::Host, session: &str, text: &str) -> purr::channel::sim::SimOutbound {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(found) = host
            .supervisor
            .sim()
            .outbound(session)
            .into_iter()
            .find(|o| o.action.text() == Some(text))
        {
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "{session} never sent {text:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
