//! The `webhook` plugin end to end: sim messages become signed JSON POSTs
//! received in order by a real HTTP server; a server that fails makes the
//! event fail, so the host retries it (`event_attempts`) and then moves it
//! to the dead letters.

mod common;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use common::{TestConfig, plugin_path};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

const SECRET: &str = "webhook-test-secret";

/// One POST as the server got it.
struct Delivery {
    headers: HeaderMap,
    body: Vec<u8>,
}

/// A server on 127.0.0.1:0 answering every POST to `/hook` with `status`.
async fn receiver(status: StatusCode) -> (std::net::SocketAddr, Arc<Mutex<Vec<Delivery>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = got.clone();
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: axum::body::Bytes| async move {
            seen.lock().unwrap().push(Delivery {
                headers,
                body: body.to_vec(),
            });
            status
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (address, got)
}

/// `webhook` then `echo` in session `s`, posting to `url`.
fn config(url: &str, origin: &str, attempts: u32) -> TestConfig {
    TestConfig::with_host(
        &format!("event_attempts = {attempts}"),
        &format!(
            "[plugins.webhook]\npath = {:?}\nallowed_hosts = [{origin:?}]\n\
             config = {{ url = {url:?}, events = [\"message\", \"receipt\"], secret = {SECRET:?}, \
             headers = {{ authorization = \"Bearer crm-token\" }} }}\n\n\
             [plugins.echo]\npath = \"{{echo}}\"\n\n\
             [sessions.s]\nchannel = \"sim\"\nplugins = [\"webhook\", \"echo\"]\n",
            plugin_path("webhook").display().to_string()
        ),
    )
}

fn signature(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn messages_arrive_in_order_as_signed_json() {
    let (server, got) = receiver(StatusCode::OK).await;
    let config = config(&format!("http://{server}/hook"), &format!("http://{server}"), 1);
    let host = config.started().await;
    assert_eq!(host.say("s", "first").await, Vec::<String>::new());
    assert_eq!(host.say_as("s", "alice", "second").await, Vec::<String>::new());
    assert_eq!(
        host.say("s", "!ping").await,
        ["pong"],
        "the chain goes on after the webhook"
    );

    let deliveries = std::mem::take(&mut *got.lock().unwrap());
    assert_eq!(
        deliveries.len(),
        3,
        "one POST per message; the bot's own sends are not inbound events"
    );
    let mut ids = Vec::new();
    for (delivery, (sender, text)) in
        deliveries
            .iter()
            .zip([("user@sim", "first"), ("alice@sim", "second"), ("user@sim", "!ping")])
    {
        let header = |name: &str| delivery.headers[name].to_str().unwrap().to_string();
        assert_eq!(
            header("x-purr-signature-256"),
            signature(&delivery.body),
            "a valid HMAC"
        );
        assert_eq!(header("content-type"), "application/json");
        assert_eq!(
            header("authorization"),
            "Bearer crm-token",
            "configured headers are sent"
        );
        assert_eq!(header("x-purr-event"), "message");
        assert_eq!(header("x-purr-session"), "s");
        let body: Value = serde_json::from_slice(&delivery.body).unwrap();
        assert_eq!(body["session"], "s");
        assert_eq!(body["event"], "message");
        assert_eq!(body["event_id"], header("x-purr-event-id"));
        assert_eq!(body["data"]["sender"], sender);
        assert_eq!(body["data"]["chat"], sender);
        assert_eq!(body["data"]["from_me"], false);
        assert_eq!(
            body["data"]["content"],
            serde_json::json!({ "type": "text", "text": text })
        );
        ids.push(body["event_id"].as_str().unwrap().to_string());
    }
    ids.dedup();
    assert_eq!(ids.len(), 3, "every event has its own id");
    host.stop().await;
}

#[tokio::test]
async fn a_failing_endpoint_fails_the_event_which_is_retried_then_dead_lettered() {
    let (server, got) = receiver(StatusCode::INTERNAL_SERVER_ERROR).await;
    let config = config(&format!("http://{server}/hook"), &format!("http://{server}"), 3);
    let host = config.started().await;
    assert_eq!(
        host.say("s", "!ping").await,
        Vec::<String>::new(),
        "a failed event sends nothing"
    );
    assert_eq!(got.lock().unwrap().len(), 3, "tried event_attempts times");
    let ids: Vec<Value> = got
        .lock()
        .unwrap()
        .iter()
        .map(|d| serde_json::from_slice::<Value>(&d.body).unwrap()["event_id"].clone())
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] == w[1]),
        "a retry carries the same event id: {ids:?}"
    );
    let dead = host.supervisor.store().dead_letters(Some("s")).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].plugin, "webhook");
    assert!(dead[0].error.contains("answered 500"), "{}", dead[0].error);
    host.stop().await;
}

#[tokio::test]
async fn an_unreachable_endpoint_dead_letters_the_event_and_the_session_goes_on() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = config(
        &format!("http://127.0.0.1:{port}/hook"),
        &format!("http://127.0.0.1:{port}"),
        2,
    );
    let host = config.started().await;
    assert_eq!(host.say("s", "!ping").await, Vec::<String>::new());
    assert_eq!(host.say("s", "!ping").await, Vec::<String>::new());
    let dead = host.supervisor.store().dead_letters(Some("s")).await.unwrap();
    assert_eq!(dead.len(), 2, "each event is a dead letter of its own");
    assert!(dead[0].error.contains("connection refused"), "{}", dead[0].error);
    host.stop().await;
}
