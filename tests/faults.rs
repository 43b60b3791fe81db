//! The failure model, one fault per test: what an operator can run into,
//! and what purr does about it. Each test reproduces the fault as it was
//! found and checks the behaviour that replaced it (docs/design.md has the
//! table: fault → what purr does → what is lost → test).

mod common;

use common::{ECHO_ALONE, TestConfig, run_purr};

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
    server.shutdown().await;
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
    server.shutdown().await;
    host.stop().await;
}
