//! Plugins in every language behave alike: the same conversation runs
//! against the `echo` plugin written in Rust, JavaScript, Python and C, on
//! the sim channel, and every one must send exactly the same messages; and
//! a JS plugin that throws or a Python plugin that raises costs only the
//! current event, as a Rust trap does.
//!
//! Plugins come from `scripts/build-plugins` (`plugins/echo*`,
//! `tests/plugins/throw-js`, `tests/plugins/raise-py`).

mod common;

use common::{TestConfig, plugin_path};
use purr::channel::{ChannelEvent, Content, InboundMessage, Media, MediaKind, Outbound, Receipt, ReceiptKind};

/// Every language's echo, each alone in a session named after its language.
const LANGUAGES: [(&str, &str); 4] = [("rust", "echo"), ("js", "echo-js"), ("py", "echo-py"), ("c", "echo-c")];

/// `{name}` in `body` becomes the path of plugin `name`.
fn with_paths(body: &str, names: &[&str]) -> String {
    names.iter().fold(body.to_string(), |body, name| {
        body.replace(&format!("{{{name}}}"), &plugin_path(name).display().to_string())
    })
}

fn echo_config() -> TestConfig {
    let mut body = String::new();
    for (session, plugin) in LANGUAGES {
        body.push_str(&format!(
            "[plugins.{plugin}]\npath = \"{{{plugin}}}\"\nconfig = {{ greeting = \"hi from config\" }}\n\n\
             [sessions.{session}]\nchannel = \"sim\"\nplugins = [\"{plugin}\"]\n\n"
        ));
    }
    TestConfig::new(&with_paths(&body, &LANGUAGES.map(|(_, plugin)| plugin)))
}

/// One inbound event of the conversation.
enum Step {
    /// A direct text from a sim user.
    Text(&'static str, &'static str),
    /// Any event, as the network would deliver it.
    Event(fn(u32) -> ChannelEvent),
}

fn message(n: u32, from: &str, chat: &str, from_me: bool, content: Content) -> ChannelEvent {
    ChannelEvent::Message(InboundMessage {
        id: format!("conformance-{n}"),
        chat: chat.to_string(),
        sender: from.to_string(),
        from_me,
        timestamp_ms: 1_700_000_000_000 + u64::from(n),
        push_name: None,
        is_group: chat.starts_with("group"),
        quoted_id: None,
        content,
    })
}

/// The conversation and, for each step, what the Rust echo sends (chat, text).
fn script() -> Vec<(Step, Vec<(&'static str, &'static str)>)> {
    use Step::*;
    vec![
        (Text("user", "!ping"), vec![("user@sim", "pong")]),
        (Text("user", "!echo hello world"), vec![("user@sim", "hello world")]),
        (Text("user", "  !ping \t"), vec![("user@sim", "pong")]),
        (Text("user", "!echo  two spaces  "), vec![("user@sim", " two spaces")]),
        (Text("user", "!echo"), vec![]),
        (Text("user", "!pingpong"), vec![]),
        (Text("user", "plain text"), vec![]),
        (Text("user", "!hello"), vec![("user@sim", "hi from config")]),
        (Text("user", "!count"), vec![("user@sim", "9")]),
        (Text("alice", "!count"), vec![("alice@sim", "1")]),
        (Text("alice", "!ping"), vec![("alice@sim", "pong")]),
        // Unicode: trimmed as Rust's `str::trim` does (White_Space), no more.
        (
            Text("user", "\u{85}\u{a0}!ping\u{3000}\u{2029}"),
            vec![("user@sim", "pong")],
        ),
        (Text("user", "\u{1c}!ping"), vec![]),
        (Text("user", "!echo ünïcödé 🐱 "), vec![("user@sim", "ünïcödé 🐱")]),
        // Sent by this account itself: ignored, not even counted.
        (
            Event(|n| message(n, "me@sim", "user@sim", true, Content::Text("!ping".into()))),
            vec![],
        ),
        // Extended text is text.
        (
            Event(|n| {
                let content = Content::ExtendedText {
                    text: "!echo with preview".into(),
                    preview_url: Some("https://example.org".into()),
                    preview_title: None,
                };
                message(n, "user@sim", "user@sim", false, content)
            }),
            vec![("user@sim", "with preview")],
        ),
        // Media: counted, never answered (a caption is not text).
        (
            Event(|n| {
                let media = Media {
                    handle: "h1".into(),
                    mime: "image/jpeg".into(),
                    size: 10,
                    caption: Some("!ping".into()),
                    file_name: None,
                    seconds: None,
                };
                message(
                    n,
                    "user@sim",
                    "user@sim",
                    false,
                    Content::Media(MediaKind::Image, media),
                )
            }),
            vec![],
        ),
        // Not a message at all.
        (
            Event(|n| {
                ChannelEvent::Receipt(Receipt {
                    chat: "user@sim".into(),
                    sender: "user@sim".into(),
                    message_ids: vec![format!("m{n}")],
                    kind: ReceiptKind::Read,
                    timestamp_ms: 1,
                })
            }),
            vec![],
        ),
        // A group: the reply and the count belong to the group chat.
        (
            Event(|n| message(n, "alice@sim", "group1@sim", false, Content::Text("!count".into()))),
            vec![("group1@sim", "1")],
        ),
        (Text("user", "!count"), vec![("user@sim", "15")]),
        (Text("alice", "!count"), vec![("alice@sim", "3")]),
    ]
}

/// What each step made a session send, as (chat, text).
type Transcript = Vec<Vec<(String, String)>>;

/// What `session` sent since `before`, as (chat, text).
fn sent_since(host: &common::Host, session: &str, before: usize) -> Vec<(String, String)> {
    host.supervisor.sim().outbound(session)[before..]
        .iter()
        .map(|o| match &o.action {
            Outbound::Text { chat, text } => (chat.clone(), text.clone()),
            other => panic!("{session}: echo only sends texts, sent {other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn every_language_echo_sends_the_same_messages() {
    let config = echo_config();
    let host = config.started().await;
    let script = script();
    let mut transcripts: Vec<(&str, Transcript)> = Vec::new();
    for (session, _) in LANGUAGES {
        let mut transcript = Vec::new();
        for (n, (step, _)) in script.iter().enumerate() {
            let before = host.supervisor.sim().outbound(session).len();
            match step {
                Step::Text(from, text) => {
                    host.supervisor
                        .sim()
                        .inject_text(session, from, text)
                        .await
                        .expect("inject");
                }
                Step::Event(make) => host
                    .supervisor
                    .sim()
                    .inject(session, make(n as u32))
                    .await
                    .expect("inject"),
            }
            host.supervisor.flush(session).await.expect("flush");
            transcript.push(sent_since(&host, session, before));
        }
        transcripts.push((session, transcript));
    }

    let expected: Transcript = script
        .iter()
        .map(|(_, sent)| sent.iter().map(|(c, t)| (c.to_string(), t.to_string())).collect())
        .collect();
    for (session, transcript) in &transcripts {
        for (n, (got, want)) in transcript.iter().zip(&expected).enumerate() {
            assert_eq!(got, want, "session {session} (echo in {session}), step {n}");
        }
    }
    assert!(
        host.supervisor.store().dead_letters(None).await.unwrap().is_empty(),
        "no event failed"
    );
    for (_, plugin) in LANGUAGES {
        assert_eq!(host.plugin(plugin).traps, 0, "{plugin} never trapped");
    }
    host.stop().await;
}

const FAILING: &str = r#"
[plugins.throw-js]
path = "{throw-js}"

[plugins.raise-py]
path = "{raise-py}"

[plugins.echo]
path = "{echo}"

[sessions.js]
channel = "sim"
plugins = ["throw-js", "echo"]

[sessions.py]
channel = "sim"
plugins = ["raise-py", "echo"]

[sessions.bystander]
channel = "sim"
plugins = ["echo"]
"#;

#[tokio::test]
async fn a_js_throw_or_a_python_raise_costs_only_the_current_event() {
    let config = TestConfig::new(&with_paths(FAILING, &["throw-js", "raise-py", "echo"]));
    let host = config.started().await;
    for (session, plugin, command) in [("js", "throw-js", "!throw"), ("py", "raise-py", "!raise")] {
        assert_eq!(
            host.say(session, "!ping").await,
            ["pong", "pong"],
            "{plugin} and echo answer"
        );
        assert_eq!(host.say(session, "!count").await, ["2"]);
        // The event fails: the chain stops, echo never sees it (nor counts it).
        assert_eq!(host.say(session, command).await, Vec::<String>::new(), "{command}");
        let dead = host.supervisor.store().dead_letters(Some(session)).await.unwrap();
        assert_eq!(dead.len(), 1, "{command} became a dead letter");
        assert_eq!(dead[0].plugin, plugin);
        assert!(dead[0].error.contains("plugin trapped"), "{plugin}: {}", dead[0].error);
        assert_eq!(host.plugin(plugin).traps, 1, "{plugin}: counted as a trap");
        // Meanwhile another session answers.
        assert_eq!(host.say("bystander", "!ping").await, ["pong"]);
        // The session goes on: the next events run, kv kept.
        assert_eq!(host.say(session, "!ping").await, ["pong", "pong"], "after {command}");
        assert_eq!(host.say(session, "!count").await, ["4"], "{command} was not counted");
        // And again: a plugin failing every other event keeps serving.
        assert_eq!(host.say(session, command).await, Vec::<String>::new());
        assert_eq!(host.say(session, "!ping").await, ["pong", "pong"]);
    }
    host.stop().await;
}
