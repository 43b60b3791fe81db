//! The example bot of every SDK — `plugins/remind` (Rust), `remind-js`,
//! `remind-py` — holds the same conversation through the real `purr chat`
//! binary and prints the same lines: message counts, command arguments with
//! quotes and extra spaces, `hears` with a capture, bad `/remind` usage and
//! a reminder that fires. In process, `/count` is a reply quoting the
//! message it answers.
//!
//! Plugins come from `scripts/build-plugins`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;

use common::{KillOnDrop, PATIENCE, TestConfig, plugin_path, run_purr};
use purr::channel::Outbound;

const USAGE: &str = "usage: /remind <10s|5m|2h> <text>";

/// What the user types before the reminder, and the lines `purr chat`
/// prints for it.
const BEFORE: &[(&str, &[&str])] = &[
    ("good morning", &[]),
    ("/count", &["this chat has seen 2 messages"]),
    ("!COUNT", &["this chat has seen 3 messages"]),
    (r#"/args one "two words"  three"#, &["3 args: one | two words | three"]),
    ("  /args   'a b'   c  ", &["2 args: a b | c"]),
    ("/args", &["0 args:"]),
    ("/argsx y", &[]),
    ("hi Ann", &["hello, Ann!"]),
    ("Hello, Bob and Carol", &["hello, Bob!"]),
    ("oh hi Ann", &[]),
    ("/remind", &[USAGE]),
    ("/remind soon tea", &[USAGE]),
    ("/remind 10s", &[USAGE]),
    ("/remind 5x tea", &[USAGE]),
];

/// The reminder, its answer and what it prints when it fires.
const REMIND: &str = "/remind 1s stretch  your legs";
const REMIND_OK: &str = "ok, I will remind you in 1s: stretch your legs";
const FIRED: &str = "⏰ stretch your legs";
/// After the reminder fired: every message so far counted, the timer not.
const AFTER: (&str, &str) = ("/count", "this chat has seen 16 messages");

/// A config with `plugin` alone in session `s`.
fn config(plugin: &str) -> TestConfig {
    TestConfig::new(&format!(
        "[plugins.remind]\npath = \"{}\"\n\n[sessions.s]\nchannel = \"sim\"\nplugins = [\"remind\"]\n",
        plugin_path(plugin).display()
    ))
}

/// The next stdout line of `purr chat` (`None` at its end), waiting at
/// most [`PATIENCE`].
fn next_line(lines: &mpsc::Receiver<String>, stderr: impl Fn() -> String) -> Option<String> {
    match lines.recv_timeout(PATIENCE) {
        Ok(line) => Some(line),
        Err(mpsc::RecvTimeoutError::Disconnected) => None,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("purr chat printed nothing more in time; stderr:\n{}", stderr()),
    }
}

/// Types the conversation into `purr chat` with `plugin`, keeping stdin
/// open until the reminder fired, and checks every line it prints.
fn converse(plugin: &str) {
    let config = config(plugin);
    // A first run with no input compiles the plugin into the data dir's
    // cache (seconds for JS and Python in a debug build); the conversation
    // then starts at once.
    let warm = run_purr(&["chat", "s", "-c", config.path.to_str().unwrap()], "", |_| {});
    assert!(warm.status.success(), "{}", String::from_utf8_lossy(&warm.stderr));
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_purr"))
            .args(["chat", "s", "-c", config.path.to_str().unwrap()])
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn purr chat"),
    );
    let (send, lines) = mpsc::channel();
    let stdout = BufReader::new(child.0.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in stdout.lines() {
            let _ = send.send(line.expect("stdout is UTF-8"));
        }
    });
    // Drained all along so that logging never blocks purr.
    let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let mut pipe = child.0.stderr.take().unwrap();
    let sink = stderr.clone();
    std::thread::spawn(move || {
        let mut buffer = [0; 4096];
        while let Ok(n @ 1..) = pipe.read(&mut buffer) {
            sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buffer[..n]));
        }
    });
    let stderr = || stderr.lock().unwrap().clone();

    let mut stdin = child.0.stdin.take().unwrap();
    let mut expected: Vec<&str> = Vec::new();
    for (typed, printed) in BEFORE {
        writeln!(stdin, "{typed}").unwrap();
        expected.extend(*printed);
    }
    writeln!(stdin, "{REMIND}").unwrap();
    expected.extend([REMIND_OK, FIRED]);
    stdin.flush().unwrap();

    // Everything up to the reminder firing, stdin still open.
    let mut printed = Vec::new();
    while !printed.iter().any(|line| line == FIRED) {
        match next_line(&lines, stderr) {
            Some(line) => printed.push(line),
            None => panic!("purr chat ended before the reminder fired: {printed:?}\n{}", stderr()),
        }
    }
    writeln!(stdin, "{}", AFTER.0).unwrap();
    expected.push(AFTER.1);
    drop(stdin);
    while let Some(line) = next_line(&lines, stderr) {
        printed.push(line);
    }
    let status = child.0.wait().expect("purr chat exits");
    assert!(status.success(), "purr chat failed: {status}\n{}", stderr());
    assert_eq!(printed, expected, "{plugin}; stderr:\n{}", stderr());
}

/// In process: `/count` is a reply quoting the message it answers.
async fn count_is_a_quoted_reply(plugin: &str) {
    let config = config(plugin);
    let host = config.started().await;
    let sim = host.supervisor.sim();
    let before = sim.outbound("s").len();
    let id = sim.inject_text("s", "user", "/count").await.expect("inject");
    host.supervisor.flush("s").await.expect("flush");
    let sent: Vec<Outbound> = sim.outbound("s")[before..].iter().map(|o| o.action.clone()).collect();
    assert_eq!(
        sent,
        [Outbound::Reply {
            chat: "user@sim".into(),
            quoted: id,
            text: "this chat has seen 1 messages".into(),
        }],
        "{plugin}"
    );
    host.stop().await;
}

#[test]
fn remind_in_rust_through_purr_chat() {
    converse("remind");
}

#[test]
fn remind_in_js_through_purr_chat() {
    converse("remind-js");
}

#[test]
fn remind_in_python_through_purr_chat() {
    converse("remind-py");
}

#[tokio::test]
async fn remind_in_rust_counts_with_a_quoted_reply() {
    count_is_a_quoted_reply("remind").await;
}

#[tokio::test]
async fn remind_in_js_counts_with_a_quoted_reply() {
    count_is_a_quoted_reply("remind-js").await;
}

#[tokio::test]
async fn remind_in_python_counts_with_a_quoted_reply() {
    count_is_a_quoted_reply("remind-py").await;
}
