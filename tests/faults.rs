//! The failure model, one fault per test: what an operator can run into,
//! and what purr does about it. Each test reproduces the fault as it was
//! found and checks the behaviour that replaced it (docs/design.md has the
//! table: fault → what purr does → what is lost → test).

mod common;

use std::io::Write;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::{ECHO_ALONE, KillOnDrop, PATIENCE, TestConfig, run_purr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Text from a remote sender (echoed back by the bot) that would drive the
/// operator's terminal: clear the screen, set the window title, write the
/// clipboard. `purr chat` prints it inert, on one line.
#[test]
fn terminal_controls_in_messages_are_printed_escaped() {
    let config = TestConfig::new(ECHO_ALONE);
    let input = "!echo \u{1b}[2Jcleared\n!echo \u{1b}]0;owned\u{7}title\n!echo \u{1b}]52;c;ZXZpbA==\u{7}clip\n";
    let output = run_purr(&["chat", "s", "-c", config.path.to_str().unwrap()], input, |_| {});
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        !stdout.contains('\u{1b}') && !stdout.contains('\u{7}'),
        "raw controls printed: {stdout:?}"
    );
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "\\x1b[2Jcleared",
            "\\x1b]0;owned\\x07title",
            "\\x1b]52;c;ZXZpbA==\\x07clip"
        ]
    );
}

/// A control API on a free port over `config`'s host, and its token.
async fn api(config: &TestConfig) -> (common::Host, purr::control::Server) {
    let host = config.started().await;
    let token = purr::control::ApiToken::new(TOKEN);
    let server = purr::control::bind(host.supervisor.clone(), "127.0.0.1:0", token)
        .await
        .expect("bind the control API");
    (host, server)
}

const TOKEN: &str = "faults-token-0123456789";

/// A 1.9 MB session name was accepted and stored, and every log line,
/// metric label and URL carried it. Names are capped (64 characters); the
/// refusal names the limit and does not echo the whole name back.
#[tokio::test]
async fn an_oversized_session_name_is_refused_with_400() {
    let config = TestConfig::new(ECHO_ALONE);
    let (host, server) = api(&config).await;
    let client = reqwest::Client::new();
    let url = format!("http://{}/v1/sessions", server.addr());
    let huge = "n".repeat(1_900_000);
    let response = client
        .post(&url)
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({ "name": huge, "channel": "sim", "plugins": ["echo"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::BAD_REQUEST);
    let body = response.text().await.unwrap();
    assert!(
        body.len() < 1024,
        "the error does not echo the name: {} bytes",
        body.len()
    );
    assert!(body.contains("1 to 64"), "{body}");
    let just_over = "n".repeat(65);
    let response = client
        .post(&url)
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({ "name": just_over, "channel": "sim", "plugins": ["echo"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::BAD_REQUEST);
    assert!(!host.supervisor.has_session(&just_over));
    server.shutdown(common::PATIENCE).await;
    host.stop().await;
}

/// A request body over the API's limit was answered 400 (as if malformed);
/// it is 413 with its own code.
#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let config = TestConfig::new(ECHO_ALONE);
    let (host, server) = api(&config).await;
    let response = reqwest::Client::new()
        .post(format!("http://{}/v1/sessions/s/messages", server.addr()))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({ "to": "user@sim", "text": "x".repeat(3 << 20) }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::PAYLOAD_TOO_LARGE);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large", "{body}");
    server.shutdown(common::PATIENCE).await;
    host.stop().await;
}

/// A client that sends half a request head and stalls held SIGTERM until
/// it went away. Now it is cut after the header-read timeout, and a stop
/// finishes within its grace even while it is connected.
#[tokio::test]
async fn a_stalled_http_client_neither_holds_shutdown_nor_its_connection() {
    let config = TestConfig::new(ECHO_ALONE);
    let (host, server) = api(&config).await;
    let address = server.addr();
    let stalled = || async move {
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        stream
    };
    // The server closes a connection whose request head never completes.
    let mut cut = stalled().await;
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(
        purr::control::HEADER_READ_TIMEOUT + PATIENCE,
        cut.read_to_end(&mut rest),
    )
    .await;
    assert!(closed.is_ok(), "the server closed the stalled connection");

    let _held = stalled().await;
    tokio::time::timeout(PATIENCE, server.shutdown(Duration::from_millis(200)))
        .await
        .expect("the shutdown ends within its grace despite the stalled client");
    host.stop().await;
}

/// `hostile` in session `s`, answering `busy` commands slowly; sends kept in
/// the database so every run's replies can be read back.
fn slow_host_config(grace_ms: u64) -> TestConfig {
    let config = TestConfig::with_host(
        &format!("api = \"127.0.0.1:0\"\nshutdown_grace_ms = {grace_ms}"),
        "[plugins.hostile]\npath = \"{hostile}\"\n\n[sessions.s]\nchannel = \"sim\"\nplugins = [\"hostile\"]\n",
    );
    let text = std::fs::read_to_string(&config.path)
        .unwrap()
        .replace("[sim]\n", "[sim]\nkeep_sent = true\n");
    std::fs::write(&config.path, text).unwrap();
    config
}

fn purr(config: &TestConfig, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_purr"));
    command
        .args(args)
        .arg("-c")
        .arg(&config.path)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    command
}

/// Queues `lines` for session `s` through `purr sim send` (the persistent sim inbox).
fn queue(config: &TestConfig, lines: &[String]) {
    let mut child = purr(config, &["sim", "send", "s"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for line in lines {
        writeln!(stdin, "{line}").unwrap();
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

/// What session `s` sent so far (`purr sim log`).
fn sent(config: &TestConfig) -> Vec<String> {
    let output = purr(config, &["sim", "log", "s"])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

/// Waits (bounded) until session `s` sent at least `n` messages.
fn wait_for_replies(config: &TestConfig, n: usize) {
    let deadline = Instant::now() + PATIENCE * 2;
    while sent(config).len() < n {
        assert!(Instant::now() < deadline, "fewer than {n} replies: {:?}", sent(config));
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([name, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits (bounded) for the process to exit.
fn exit_status(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "purr run did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A backlog on a slow plugin drained whole before SIGTERM finished (60
/// events of 300 ms took 16.5 s). Now the drain lasts at most
/// `shutdown_grace_ms`, the process exits 0, and what was left runs after
/// the next start: every message answered exactly once, in order.
#[test]
fn sigterm_drains_only_for_the_grace_and_the_rest_runs_after_restart() {
    let config = slow_host_config(300);
    let expected: Vec<String> = (0..40).map(|i| format!("reply-{i}")).collect();
    queue(
        &config,
        &expected.iter().map(|r| format!("busy 100 {r}")).collect::<Vec<_>>(),
    );

    let mut host = KillOnDrop(purr(&config, &["run"]).spawn().unwrap());
    wait_for_replies(&config, 1);
    signal(&host.0, "-TERM");
    let status = exit_status(&mut host.0);
    assert!(status.success(), "a clean stop: {status}");
    let at_stop = sent(&config).len();
    assert!(
        at_stop < expected.len(),
        "the backlog was not drained whole ({at_stop} replies)"
    );

    let mut host = KillOnDrop(purr(&config, &["run"]).spawn().unwrap());
    wait_for_replies(&config, expected.len());
    signal(&host.0, "-TERM");
    assert!(exit_status(&mut host.0).success());
    assert_eq!(sent(&config), expected, "every message answered once, in order");
}

/// A second SIGINT or SIGTERM during a stop was ignored. Now it ends the
/// process at once (status 130); the unfinished events stay journaled.
#[test]
fn a_second_signal_exits_at_once() {
    let config = slow_host_config(600_000);
    let lines: Vec<String> = (0..40).map(|i| format!("busy 100 reply-{i}")).collect();
    queue(&config, &lines);
    let mut host = KillOnDrop(purr(&config, &["run"]).spawn().unwrap());
    wait_for_replies(&config, 1);
    signal(&host.0, "-TERM");
    std::thread::sleep(Duration::from_millis(200));
    signal(&host.0, "-INT");
    let status = exit_status(&mut host.0);
    assert_eq!(status.code(), Some(130), "{status}");
    assert!(sent(&config).len() < lines.len(), "it did not wait for the backlog");
}
