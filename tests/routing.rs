//! Routing: each session's events reach its own chain, in order; middleware
//! can stop an event; a failing plugin costs only its current event.

mod common;

use common::TestConfig;

const TWO_SESSIONS: &str = r#"
[plugins.guard]
path = "{guard}"
config = { banned = ["spam"] }

[plugins.echo]
path = "{echo}"
config = { greeting = "hi" }

[sessions.filtered]
channel = "sim"
plugins = ["guard", "echo"]

[sessions.open]
channel = "sim"
plugins = ["echo"]

[sessions.open.config.echo]
greeting = "welcome"
"#;

#[tokio::test]
async fn each_session_runs_its_own_chain_and_settings() {
    let config = TestConfig::new(TWO_SESSIONS);
    let host = config.started().await;

    assert_eq!(host.say("filtered", "!ping").await, ["pong"]);
    assert_eq!(host.say("open", "!ping").await, ["pong"]);
    assert_eq!(host.say("filtered", "!hello").await, ["hi"]);
    assert_eq!(host.say("open", "!hello").await, ["welcome"], "per-session override");
    // Only the filtered session has the guard in its chain.
    assert_eq!(host.say("filtered", "buy SPAM now").await, ["blocked"]);
    assert_eq!(host.say("open", "!echo buy spam now").await, ["buy spam now"]);
    assert_eq!(host.say("open", "plain text").await, Vec::<String>::new());
    // Replies go to the chat the message came from.
    host.say_as("open", "alice", "!ping").await;
    let last = host.supervisor.sim().outbound("open").pop().unwrap();
    assert_eq!(
        last.action,
        purr::channel::Outbound::Text {
            chat: "alice@sim".into(),
            text: "pong".into()
        }
    );
    host.stop().await;
}

#[tokio::test]
async fn middleware_stop_hides_the_event_from_later_plugins() {
    let config = TestConfig::new(TWO_SESSIONS);
    let host = config.started().await;

    assert_eq!(host.say("filtered", "!count").await, ["1"]);
    // Blocked: echo never sees it, so it is not counted either.
    assert_eq!(host.say("filtered", "!echo spam").await, ["blocked"]);
    assert_eq!(host.say("filtered", "!count").await, ["2"]);
    // The guard replies quoting the offending message.
    let blocked = host
        .supervisor
        .sim()
        .outbound("filtered")
        .into_iter()
        .find(|o| o.action.text() == Some("blocked"))
        .unwrap();
    assert!(
        matches!(blocked.action, purr::channel::Outbound::Reply { ref quoted, .. } if quoted.starts_with("sim-in-"))
    );
    host.stop().await;
}

#[tokio::test]
async fn events_of_a_session_are_handled_in_arrival_order() {
    let config = TestConfig::new(TWO_SESSIONS);
    let host = config.started().await;
    let sim = host.supervisor.sim();
    for i in 0..200 {
        sim.inject_text("open", "user", &format!("!echo {i}")).await.unwrap();
        sim.inject_text("filtered", "user", &format!("!echo {i}"))
            .await
            .unwrap();
    }
    host.supervisor.flush("open").await.unwrap();
    host.supervisor.flush("filtered").await.unwrap();
    let expected: Vec<String> = (0..200).map(|i| i.to_string()).collect();
    for session in ["open", "filtered"] {
        let texts: Vec<String> = sim
            .outbound(session)
            .iter()
            .filter_map(|o| o.action.text().map(String::from))
            .collect();
        assert_eq!(texts, expected, "session {session}");
    }
    host.stop().await;
}

const PROBE_THEN_ECHO: &str = r#"
[plugins.probe]
path = "{probe}"

[plugins.echo]
path = "{echo}"

[sessions.bot]
channel = "sim"
plugins = ["probe", "echo"]

[sessions.bystander]
channel = "sim"
plugins = ["echo"]
"#;

#[tokio::test]
async fn a_plugin_error_or_trap_costs_only_the_current_event() {
    let config = TestConfig::new(PROBE_THEN_ECHO);
    let host = config.started().await;

    // An error ends the chain for this event: echo does not see `fail`.
    assert_eq!(host.say("bot", "fail").await, Vec::<String>::new());
    assert_eq!(host.say("bot", "!ping").await, ["pong"], "the session goes on");

    // A trap kills the instance; the next event gets a fresh one.
    host.say("bot", "kv-set k v").await;
    assert_eq!(host.say("bot", "trap").await, Vec::<String>::new());
    assert_eq!(host.say("bot", "!ping").await, ["pong"]);
    assert_eq!(host.say("bot", "kv-get k").await, ["v"], "kv outlives the instance");
    assert_eq!(host.supervisor.live_instances("bot").unwrap(), 2);

    // Other sessions never noticed.
    assert_eq!(host.say("bystander", "!ping").await, ["pong"]);
    host.stop().await;
}

#[tokio::test]
async fn plugin_config_and_logging_capabilities_work() {
    let config = TestConfig::new(
        r#"
[plugins.probe]
path = "{probe}"
config = { mode = "strict", limit = 3, words = ["a", "b"] }

[sessions.bot]
channel = "sim"
plugins = ["probe"]

[sessions.bot.config.probe]
limit = 5
"#,
    );
    let host = config.started().await;
    assert_eq!(host.say("bot", "config mode").await, ["strict"]);
    assert_eq!(host.say("bot", "config limit").await, ["5"], "session override wins");
    assert_eq!(host.say("bot", "config missing").await, ["(none)"]);
    assert_eq!(host.say("bot", "config-list words").await, ["a,b"]);
    assert_eq!(
        host.say("bot", "config-json").await,
        [r#"{"limit":5,"mode":"strict","words":["a","b"]}"#]
    );
    assert_eq!(host.say("bot", "session").await, ["bot"]);
    assert_eq!(host.say("bot", "log hello").await, ["logged"]);
    assert_eq!(host.say("bot", "stdout hello").await, ["printed"]);
    assert_eq!(host.say("bot", "react").await, ["reacted"]);
    assert!(
        host.supervisor
            .sim()
            .outbound("bot")
            .iter()
            .any(|o| matches!(&o.action, purr::channel::Outbound::React { emoji, .. } if emoji == "👍"))
    );
    host.stop().await;
}
