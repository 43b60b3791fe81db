//! The control API against oversized input and stalled clients.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{self, ECHO_ALONE, PATIENCE, TestConfig};

/// A control API on a free port over `config`'s host, and its token.
pub async fn api(config: &TestConfig) -> (common::Host, purr::control::Server) {
    let host = config.started().await;
    let token = purr::control::ApiToken::new(TOKEN);
    let server = purr::control::bind(host.supervisor.clone(), "127.0.0.1:0", token)
        .await
        .expect("bind the control API");
    (host, server)
}

pub const TOKEN: &str = "faults-token-0123456789";

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

/// `POST …/messages` sent any length; WhatsApp clients cut a text at
/// 65,536 characters (a plugin's send was refused over it, the API's was
/// not). Now the API refuses it too, before it reaches the network.
#[tokio::test]
async fn an_api_text_over_the_channels_limit_is_422() {
    let config = TestConfig::new("[sessions.wa]\nchannel = \"whatsapp\"\nplugins = []\nautostart = false\n");
    let (host, server) = api(&config).await;
    let send = |text: String| {
        reqwest::Client::new()
            .post(format!("http://{}/v1/sessions/wa/messages", server.addr()))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({ "to": "1555@s.whatsapp.net", "text": text }))
            .send()
    };
    let response = send("é".repeat(65_537)).await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::UNPROCESSABLE_ENTITY);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().contains("65537 characters"),
        "{body}"
    );
    // At the limit the text passes the check (and meets the next: not connected).
    let response = send("é".repeat(65_536)).await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::CONFLICT);
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

/// `GET /v1/sessions/{name}/sim/outbound` showed only what was sent since
/// the host's last start, though `[sim] keep_sent` persists the whole log
/// (which `purr sim log` reads). Now it serves the persisted log.
#[tokio::test]
async fn sim_outbound_serves_the_persisted_log_across_restarts() {
    let config = TestConfig::new(ECHO_ALONE);
    let text = std::fs::read_to_string(&config.path)
        .unwrap()
        .replace("[sim]\n", "[sim]\nkeep_sent = true\n");
    std::fs::write(&config.path, text).unwrap();
    let sent_texts = |server: &purr::control::Server| {
        let url = format!("http://{}/v1/sessions/s/sim/outbound", server.addr());
        async move {
            let sent: serde_json::Value = reqwest::Client::new()
                .get(url)
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            sent.as_array()
                .unwrap()
                .iter()
                // `{"Text": {"text": ..}}`, `{"Reply": {"text": ..}}`, ...
                .map(|entry| {
                    let action = entry["action"].as_object().unwrap().values().next().unwrap();
                    action["text"].as_str().unwrap().to_string()
                })
                .collect::<Vec<_>>()
        }
    };

    let (host, server) = api(&config).await;
    assert_eq!(host.say("s", "!ping").await, ["pong"]);
    assert_eq!(sent_texts(&server).await, ["pong"]);
    server.shutdown(PATIENCE).await;
    host.stop().await;

    let (host, server) = api(&config).await;
    assert_eq!(host.say("s", "!echo again").await, ["again"]);
    assert_eq!(
        sent_texts(&server).await,
        ["pong", "again"],
        "the earlier run's send too"
    );
    server.shutdown(PATIENCE).await;
    host.stop().await;
}
