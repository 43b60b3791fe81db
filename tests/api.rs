//! The control API over real HTTP (`docs/api.md`): every route with and
//! without the token, errors and their codes, run-time sessions across a
//! restart, the live event stream, metrics and the OpenAPI document.

mod common;

use std::collections::BTreeSet;
use std::pin::Pin;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use purr::control::{self, ApiToken, Server};
use purr::session::State;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use common::{ECHO_ALONE, Host, PATIENCE, TestConfig, plugin_path};

const TOKEN: &str = "test-token-0123456789";

/// A control API server on a free loopback port, and a client for it.
struct Api {
    server: Server,
    client: reqwest::Client,
}

impl Api {
    async fn serve(host: &Host) -> Api {
        let server = control::bind(host.supervisor.clone(), "127.0.0.1:0", ApiToken::new(TOKEN))
            .await
            .expect("bind the control API");
        Api {
            server,
            client: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.addr())
    }

    /// A request with `token` (none: no Authorization header).
    async fn send(&self, method: Method, path: &str, body: Option<&Value>, token: Option<&str>) -> reqwest::Response {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("request")
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.send(Method::GET, path, None, Some(TOKEN)).await
    }

    async fn post(&self, path: &str, body: Option<Value>) -> reqwest::Response {
        self.send(Method::POST, path, body.as_ref(), Some(TOKEN)).await
    }

    /// `GET path` with the token, expecting `200` and JSON.
    async fn json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.expect("JSON")
    }

    /// Opens `GET /v1/events<query>`.
    async fn events(&self, query: &str) -> Events {
        let response = self.get(&format!("/v1/events{query}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
        assert!(content_type.starts_with("text/event-stream"), "{content_type}");
        Events {
            body: Box::pin(response.bytes_stream()),
            buffer: String::new(),
        }
    }

    async fn stop(self, host: Host) {
        self.server.shutdown(common::PATIENCE).await;
        host.stop().await;
    }
}

/// Asserts `response` is the JSON error `status` / `code`.
async fn assert_error(response: reqwest::Response, status: StatusCode, code: &str) {
    assert_eq!(response.status(), status, "{}", response.url());
    let body: Value = response.json().await.expect("an error body is JSON");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
}

/// One server-sent event.
#[derive(Debug)]
struct SseEvent {
    id: u64,
    event: String,
    data: Value,
}

/// A reader of a server-sent event stream.
struct Events {
    body: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>>>>,
    buffer: String,
}

impl Events {
    /// The next event (keep-alive comments skipped); fails after [`PATIENCE`].
    async fn next(&mut self) -> SseEvent {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, None, None);
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("id: ") {
                        id = Some(value.parse().expect("numeric id"));
                    } else if let Some(value) = line.strip_prefix("event: ") {
                        event = Some(value.to_string());
                    } else if let Some(value) = line.strip_prefix("data: ") {
                        data = Some(serde_json::from_str(value).expect("JSON data"));
                    }
                }
                if let (Some(id), Some(event), Some(data)) = (id, event, data) {
                    return SseEvent { id, event, data };
                }
                continue;
            }
            let chunk = tokio::time::timeout(PATIENCE, self.body.next())
                .await
                .expect("an event within the patience")
                .expect("the stream goes on")
                .expect("stream chunk");
            self.buffer.push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        }
    }

    /// The next event named `name`, skipping others.
    async fn next_named(&mut self, name: &str) -> SseEvent {
        loop {
            let event = self.next().await;
            if event.event == name {
                return event;
            }
        }
    }
}

/// A config whose sim accounts take `pair_delay_ms` to link (the common
/// harness links them in 20 ms).
fn config_with_pair_delay(pair_delay_ms: u64, body: &str) -> TestConfig {
    let config = TestConfig::new("");
    let mut body = body.to_string();
    for name in ["echo", "probe", "hostile"] {
        body = body.replace(&format!("{{{name}}}"), &plugin_path(name).display().to_string());
    }
    let text = format!("[host]\ndata_dir = \"data\"\n\n[sim]\npair_delay_ms = {pair_delay_ms}\n\n{body}");
    std::fs::write(&config.path, text).expect("write config");
    config
}

/// Every route of docs/api.md that needs the token, with a body that would
/// be accepted.
fn protected_routes() -> Vec<(Method, &'static str, Option<Value>)> {
    vec![
        (Method::GET, "/v1/sessions", None),
        (
            Method::POST,
            "/v1/sessions",
            Some(json!({"name": "sneaky", "channel": "sim", "plugins": []})),
        ),
        (Method::GET, "/v1/sessions/s", None),
        (Method::POST, "/v1/sessions/s/start", None),
        (
            Method::POST,
            "/v1/sessions/s/pair-code",
            Some(json!({"phone": "+15551234567"})),
        ),
        (Method::POST, "/v1/sessions/s/disconnect", None),
        (Method::POST, "/v1/sessions/s/destroy", None),
        (Method::GET, "/v1/sessions/s/qr", None),
        (
            Method::POST,
            "/v1/sessions/s/messages",
            Some(json!({"to": "user@sim", "text": "hi"})),
        ),
        (
            Method::POST,
            "/v1/sessions/s/sim/inbound",
            Some(json!({"from": "user", "text": "!ping"})),
        ),
        (Method::GET, "/v1/sessions/s/sim/outbound", None),
        (Method::GET, "/v1/plugins", None),
        (Method::POST, "/v1/plugins/echo/reload", None),
        (
            Method::POST,
            "/v1/plugins/echo/shadow",
            Some(json!({"path": plugin_path("tagged-v2")})),
        ),
        (Method::DELETE, "/v1/plugins/echo/shadow", None),
        (Method::POST, "/v1/plugins/echo/promote", None),
        (Method::GET, "/v1/events", None),
        (Method::GET, "/metrics", None),
    ]
}

#[tokio::test]
async fn without_the_right_token_every_protected_route_is_refused_and_nothing_happens() {
    let config = TestConfig::new(ECHO_ALONE);
    let host = config.started().await;
    let api = Api::serve(&host).await;
    for (method, path, body) in protected_routes() {
        for token in [None, Some("wrong"), Some("test-token-012345678"), Some("")] {
            let response = api.send(method.clone(), path, body.as_ref(), token).await;
            assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
        }
    }
    // A `Basic` header with the right secret is not a bearer token.
    let response = api
        .client
        .get(api.url("/v1/sessions"))
        .header("authorization", format!("Basic {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;

    // Nothing was done: `s` is still connected, nothing created, sent or injected.
    assert_eq!(host.supervisor.status("s").unwrap().state, State::Connected);
    let names: Vec<String> = host
        .supervisor
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["s"]);
    assert!(host.supervisor.sim().outbound("s").is_empty());
    assert_eq!(host.plugin("echo").generation, 1);

    // With the token the same session answers.
    assert_eq!(api.json("/v1/sessions/s").await["status"], "connected");
    api.stop(host).await;
}

#[tokio::test]
async fn public_routes_need_no_token() {
    let config = TestConfig::new(ECHO_ALONE);
    let host = config.host().await;
    let api = Api::serve(&host).await;
    let health = api.send(Method::GET, "/healthz", None, None).await;
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(health.text().await.unwrap(), "ok");
    let ready = api.send(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE, "nothing started yet");
    let document = api.send(Method::GET, "/v1/openapi.json", None, None).await;
    assert_eq!(document.status(), StatusCode::OK);
    let dashboard = api.send(Method::GET, "/", None, None).await;
    assert_eq!(dashboard.status(), StatusCode::OK);
    // Unknown routes are JSON 404s.
    assert_error(api.get("/v2/nothing").await, StatusCode::NOT_FOUND, "not_found").await;
    api.stop(host).await;
}

#[tokio::test]
async fn the_token_file_is_made_once_private_and_kept() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let first = ApiToken::load_or_create(&data_dir).unwrap();
    let path = control::token_path(&data_dir);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(first.as_str().len(), 64, "32 bytes, hex");
    assert!(first.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
    let again = ApiToken::load_or_create(&data_dir).unwrap();
    assert_eq!(first.as_str(), again.as_str(), "a restart keeps the token");
    let other = ApiToken::load_or_create(&dir.path().join("other")).unwrap();
    assert_ne!(first.as_str(), other.as_str());
    // Only the token file is left in the data dir (no temporary files).
    let files: Vec<_> = std::fs::read_dir(&data_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files, [control::TOKEN_FILE]);
}

#[tokio::test]
async fn sessions_are_listed_inspected_and_unknown_ones_are_404() {
    let config = TestConfig::new(&format!(
        "{ECHO_ALONE}\n[sessions.idle]\nchannel = \"sim\"\nplugins = []\nautostart = false\n"
    ));
    let host = config.started().await;
    let api = Api::serve(&host).await;

    let list = api.json("/v1/sessions").await;
    let list = list.as_array().expect("an array");
    assert_eq!(list.len(), 2);
    let s = list.iter().find(|s| s["name"] == "s").expect("s listed");
    assert_eq!(
        *s,
        json!({
            "name": "s", "channel": "sim", "origin": "config", "status": "connected",
            "connected": true, "jid": "s@sim", "qr": null, "pair_code": null,
            "last_error": null, "plugins": ["echo"], "owner": config.load().host.id
        })
    );
    let idle = api.json("/v1/sessions/idle").await;
    assert_eq!(
        (
            idle["status"].as_str(),
            idle["connected"].as_bool(),
            idle["owner"].as_str()
        ),
        (Some("stopped"), Some(false), None),
        "a stopped session runs nowhere"
    );

    for (method, path) in [
        (Method::GET, "/v1/sessions/nope"),
        (Method::POST, "/v1/sessions/nope/start"),
        (Method::POST, "/v1/sessions/nope/disconnect"),
        (Method::POST, "/v1/sessions/nope/destroy"),
        (Method::GET, "/v1/sessions/nope/qr"),
        (Method::GET, "/v1/sessions/nope/sim/outbound"),
        (Method::GET, "/v1/events?session=nope"),
    ] {
        assert_error(
            api.send(method, path, None, Some(TOKEN)).await,
            StatusCode::NOT_FOUND,
            "unknown_session",
        )
        .await;
    }
    let phone = json!({"phone": "+15551234567"});
    assert_error(
        api.post("/v1/sessions/nope/pair-code", Some(phone)).await,
        StatusCode::NOT_FOUND,
        "unknown_session",
    )
    .await;
    let message = json!({"to": "user@sim", "text": "hi"});
    assert_error(
        api.post("/v1/sessions/nope/messages", Some(message)).await,
        StatusCode::NOT_FOUND,
        "unknown_session",
    )
    .await;
    let inbound = json!({"from": "user", "text": "hi"});
    assert_error(
        api.post("/v1/sessions/nope/sim/inbound", Some(inbound)).await,
        StatusCode::NOT_FOUND,
        "unknown_session",
    )
    .await;
    assert_error(
        api.post("/v1/plugins/nope/reload", None).await,
        StatusCode::NOT_FOUND,
        "unknown_plugin",
    )
    .await;
    api.stop(host).await;
}

#[tokio::test]
async fn lifecycle_messages_and_the_sim_through_the_api() {
    let config = TestConfig::new(ECHO_ALONE);
    let host = config.started().await;
    let api = Api::serve(&host).await;

    // The sim's other side: a user writes, echo answers.
    let inbound = api
        .post(
            "/v1/sessions/s/sim/inbound",
            Some(json!({"from": "alice", "text": "!ping"})),
        )
        .await;
    assert_eq!(inbound.status(), StatusCode::ACCEPTED);
    let id = inbound.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!id.is_empty());
    host.supervisor.flush("s").await.unwrap();
    let outbound = api.json("/v1/sessions/s/sim/outbound").await;
    assert_eq!(outbound.as_array().unwrap().len(), 1, "{outbound}");
    assert_eq!(outbound[0]["session"], "s");
    assert_eq!(
        outbound[0]["action"]["Text"],
        json!({"chat": "alice@sim", "text": "pong"})
    );

    // A text sent through the API reaches the network under the id it answers.
    let sent = api
        .post(
            "/v1/sessions/s/messages",
            Some(json!({"to": "bob@sim", "text": "hello bob"})),
        )
        .await;
    assert_eq!(sent.status(), StatusCode::ACCEPTED);
    let sent_id = sent.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let last = host.supervisor.sim().outbound("s").pop().expect("sent");
    assert_eq!(
        (last.id.as_str(), last.action.text()),
        (sent_id.as_str(), Some("hello bob"))
    );

    // Malformed bodies are 400.
    for body in [json!({"to": "bob@sim"}), json!({"text": 1, "to": "x"}), json!([1])] {
        assert_error(
            api.post("/v1/sessions/s/messages", Some(body)).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
    }
    let garbage = api
        .client
        .post(api.url("/v1/sessions/s/messages"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_error(garbage, StatusCode::BAD_REQUEST, "bad_request").await;

    // disconnect → stopped (auth kept); sending now is a conflict.
    let stopped = api.post("/v1/sessions/s/disconnect", None).await;
    assert_eq!(stopped.status(), StatusCode::OK);
    let stopped: Value = stopped.json().await.unwrap();
    assert_eq!(
        (stopped["status"].as_str(), stopped["jid"].as_str()),
        (Some("stopped"), Some("s@sim"))
    );
    let message = json!({"to": "bob@sim", "text": "anyone?"});
    assert_error(
        api.post("/v1/sessions/s/messages", Some(message)).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    let inbound = json!({"from": "alice", "text": "!ping"});
    assert_error(
        api.post("/v1/sessions/s/sim/inbound", Some(inbound)).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;

    // start → reconnects with no QR.
    let started = api.post("/v1/sessions/s/start", None).await;
    assert_eq!(started.status(), StatusCode::OK);
    host.wait_state("s", State::Connected).await;
    assert_error(api.get("/v1/sessions/s/qr").await, StatusCode::CONFLICT, "conflict").await;

    // destroy → logged out, auth gone; the config session stays listed.
    let destroyed: Value = api.post("/v1/sessions/s/destroy", None).await.json().await.unwrap();
    assert_eq!(
        (destroyed["status"].as_str(), destroyed["jid"].as_str()),
        (Some("logged-out"), None)
    );
    assert!(!host.supervisor.sim().is_online("s"));
    assert_eq!(api.json("/v1/sessions/s").await["status"], "logged-out");
    api.stop(host).await;
}

#[tokio::test]
async fn the_qr_is_an_svg_while_scan_qr_only() {
    let config = config_with_pair_delay(
        3_600_000,
        "[sessions.new]\nchannel = \"sim\"\nplugins = []\nautostart = false\n",
    );
    let host = config.host().await;
    let api = Api::serve(&host).await;
    assert_error(api.get("/v1/sessions/new/qr").await, StatusCode::CONFLICT, "conflict").await;
    let started: Value = api.post("/v1/sessions/new/start", None).await.json().await.unwrap();
    assert_eq!(started["origin"], "config");
    host.wait_state("new", State::ScanQr).await;
    let session = api.json("/v1/sessions/new").await;
    assert!(
        session["qr"]["code"].as_str().unwrap().starts_with("sim-qr:new:"),
        "{session}"
    );
    assert!(session["qr"]["expires_in_ms"].as_u64().unwrap() > 0);

    let qr = api.get("/v1/sessions/new/qr").await;
    assert_eq!(qr.status(), StatusCode::OK);
    assert_eq!(qr.headers()["content-type"], "image/svg+xml");
    let svg = qr.text().await.unwrap();
    assert!(svg.contains("<svg") && svg.contains("</svg>"), "{svg}");
    api.stop(host).await;
}

// Several threads: the server answers while the plugin spins on another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_are_409() {
    let config = TestConfig::new(
        r#"
[plugins.hostile]
path = "{hostile}"
timeout_ms = 3000

[sessions.h]
channel = "sim"
plugins = ["hostile"]

[sessions.w]
channel = "whatsapp"
plugins = []
autostart = false
"#,
    );
    let host = config.started().await;
    let api = Api::serve(&host).await;

    // Sim routes on a session of another channel.
    let inbound = json!({"from": "user", "text": "hi"});
    assert_error(
        api.post("/v1/sessions/w/sim/inbound", Some(inbound)).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert_error(
        api.get("/v1/sessions/w/sim/outbound").await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    // Sending on a session that is not connected.
    let message = json!({"to": "x@s.whatsapp.net", "text": "hi"});
    assert_error(
        api.post("/v1/sessions/w/messages", Some(message)).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;

    // A lifecycle call while another runs on the same session: `disconnect`
    // drains the queue, where `loop` keeps the task busy for 3 s.
    host.supervisor.sim().inject_text("h", "user", "loop").await.unwrap();
    let supervisor = host.supervisor.clone();
    let disconnecting = tokio::spawn(async move { supervisor.disconnect("h").await });
    // Once the session refuses new events, `disconnect` holds the session.
    while host.supervisor.sim().inject_text("h", "user", "noop").await.is_ok() {
        tokio::task::yield_now().await;
    }
    for action in ["start", "disconnect", "destroy"] {
        let response = api.post(&format!("/v1/sessions/h/{action}"), None).await;
        assert_error(response, StatusCode::CONFLICT, "conflict").await;
    }
    disconnecting.await.unwrap().unwrap();
    assert_eq!(api.json("/v1/sessions/h").await["status"], "stopped");
    // Free again.
    assert_eq!(api.post("/v1/sessions/h/start", None).await.status(), StatusCode::OK);
    api.stop(host).await;
}

#[tokio::test]
async fn runtime_sessions_are_validated_stored_and_survive_a_restart() {
    let config = TestConfig::new(ECHO_ALONE);
    let host = config.started().await;
    let api = Api::serve(&host).await;

    let create = |body: Value| api.post("/v1/sessions", Some(body));
    assert_error(
        create(json!({"name": "bad name", "channel": "sim", "plugins": []})).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert_error(
        create(json!({"channel": "sim", "plugins": []})).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert_error(
        create(json!({"name": "x", "channel": "irc", "plugins": []})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
    )
    .await;
    assert_error(
        create(json!({"name": "x", "channel": "sim", "plugins": ["nope"]})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
    )
    .await;
    assert_error(
        create(json!({"name": "x", "channel": "sim", "plugins": ["echo", "echo"]})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
    )
    .await;
    assert_error(
        create(json!({"name": "s", "channel": "sim", "plugins": []})).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert_eq!(
        api.json("/v1/sessions").await.as_array().unwrap().len(),
        1,
        "nothing created by refusals"
    );

    let created = create(json!({"name": "rt", "channel": "sim", "plugins": ["echo"]})).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    assert_eq!(
        (created["name"].as_str(), created["origin"].as_str()),
        (Some("rt"), Some("api"))
    );
    assert_eq!(created["plugins"], json!(["echo"]));
    let quiet = create(json!({"name": "quiet", "channel": "sim", "plugins": [], "autostart": false})).await;
    assert_eq!(quiet.status(), StatusCode::CREATED);
    assert_error(
        create(json!({"name": "rt", "channel": "sim", "plugins": []})).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;

    host.wait_state("rt", State::Connected).await;
    assert_eq!(host.say("rt", "!ping").await, ["pong"]);
    assert_eq!(api.json("/v1/sessions/quiet").await["status"], "stopped");
    let names = |list: Value| -> BTreeSet<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(api.json("/v1/sessions").await),
        BTreeSet::from(["quiet".into(), "rt".into(), "s".into()])
    );

    // A config reload does not remove run-time sessions.
    config.write(&format!("{ECHO_ALONE}\nsends_per_minute = 100\n"));
    let report = host.supervisor.reconfigure(config.load()).await.unwrap();
    assert_eq!(report.sessions_restarted, ["s"]);
    assert_eq!(host.supervisor.status("rt").unwrap().state, State::Connected);

    // A restart (same data dir) brings them back; autostart starts `rt` again, linked.
    api.stop(host).await;
    let host = config.host().await;
    let api = Api::serve(&host).await;
    assert_eq!(
        names(api.json("/v1/sessions").await),
        BTreeSet::from(["quiet".into(), "rt".into(), "s".into()])
    );
    let rt = api.json("/v1/sessions/rt").await;
    assert_eq!(
        (rt["origin"].as_str(), rt["status"].as_str()),
        (Some("api"), Some("stopped"))
    );
    host.supervisor.start_autostart().await;
    host.wait_state("rt", State::Connected).await;
    assert_eq!(host.say("rt", "!ping").await, ["pong"]);
    assert_eq!(
        host.supervisor.status("quiet").unwrap().state,
        State::Stopped,
        "autostart = false"
    );

    // Destroying a run-time session forgets it, also across a restart.
    let destroyed: Value = api.post("/v1/sessions/rt/destroy", None).await.json().await.unwrap();
    assert_eq!(
        (destroyed["status"].as_str(), destroyed["origin"].as_str()),
        (Some("logged-out"), Some("api"))
    );
    assert_error(
        api.get("/v1/sessions/rt").await,
        StatusCode::NOT_FOUND,
        "unknown_session",
    )
    .await;
    api.stop(host).await;
    let host = config.host().await;
    let names: Vec<String> = host
        .supervisor
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["quiet", "s"]);
    host.stop().await;
}

#[tokio::test]
async fn events_stream_statuses_in_order_then_messages_and_sends() {
    let config = TestConfig::new(&format!(
        "{ECHO_ALONE}autostart = false\n\n[sessions.other]\nchannel = \"sim\"\nautostart = false\n"
    ));
    let host = config.host().await;
    let api = Api::serve(&host).await;
    let mut events = api.events("?session=s").await;
    let mut all = api.events("").await;

    // The stream opens with the current status of each session it covers.
    let first = events.next().await;
    assert_eq!(first.event, "status");
    assert_eq!(
        first.data,
        json!({"session": "s", "status": {"status": "stopped", "jid": null, "qr": null, "pair_code": null, "last_error": null}})
    );
    let mut opening = BTreeSet::new();
    for _ in 0..2 {
        let event = all.next().await;
        assert_eq!(event.event, "status");
        opening.insert(event.data["session"].as_str().unwrap().to_string());
    }
    assert_eq!(opening, BTreeSet::from(["other".into(), "s".into()]));

    // A new account: starting, scan-qr (with the QR), connected — in order.
    assert_eq!(api.post("/v1/sessions/s/start", None).await.status(), StatusCode::OK);
    let mut seen = Vec::new();
    let mut last_id = first.id;
    while seen.last().map(String::as_str) != Some("connected") {
        let event = events.next().await;
        assert!(event.id > last_id, "ids increase");
        last_id = event.id;
        assert_eq!(
            (event.event.as_str(), event.data["session"].as_str()),
            ("status", Some("s"))
        );
        match event.data["status"]["status"].as_str() {
            Some("scan-qr") => assert!(event.data["status"]["qr"]["code"].is_string(), "{:?}", event.data),
            Some("connected") => assert_eq!(event.data["status"]["jid"], "s@sim"),
            _ => {}
        }
        seen.push(event.data["status"]["status"].as_str().unwrap().to_string());
    }
    assert_eq!(seen, ["starting", "scan-qr", "connected"]);

    // An inbound message, then the reply the network took.
    api.post(
        "/v1/sessions/s/sim/inbound",
        Some(json!({"from": "alice", "text": "!echo hi there"})),
    )
    .await;
    let message = events.next_named("message").await;
    assert_eq!(message.data["session"], "s");
    assert_eq!(
        (message.data["chat"].as_str(), message.data["sender"].as_str()),
        (Some("alice@sim"), Some("alice@sim"))
    );
    assert_eq!(message.data["text"], "!echo hi there");
    let sent = events.next_named("sent").await;
    assert_eq!(sent.data["session"], "s");
    assert_eq!(
        sent.data["action"]["Text"],
        json!({"chat": "alice@sim", "text": "hi there"})
    );
    assert!(sent.id > message.id);

    // The unfiltered stream saw the same.
    let sent_too = all.next_named("sent").await;
    assert_eq!(sent_too.data["action"], sent.data["action"]);

    // Shutting the server down ends the streams.
    api.server.shutdown(common::PATIENCE).await;
    host.stop().await;
}

#[tokio::test]
async fn plugins_are_listed_and_reloaded_through_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("bot.wasm");
    std::fs::copy(plugin_path("echo"), &wasm).unwrap();
    let config = TestConfig::new(&format!(
        "[plugins.bot]\npath = \"{}\"\n\n[sessions.s]\nchannel = \"sim\"\nplugins = [\"bot\"]\n",
        wasm.display()
    ));
    let host = config.started().await;
    let api = Api::serve(&host).await;
    let mut events = api.events("").await;

    let plugins = api.json("/v1/plugins").await;
    let bot = &plugins[0];
    assert_eq!(
        (bot["name"].as_str(), bot["generation"].as_u64()),
        (Some("bot"), Some(1))
    );
    assert_eq!(bot["health"], "ready");
    let digest = bot["digest"].as_str().unwrap().to_string();
    assert_eq!(digest.len(), 64);
    assert!(matches!(bot["source"].as_str(), Some("compiled" | "cache")));

    // An unchanged file: nothing new serves.
    let same: Value = api.post("/v1/plugins/bot/reload", None).await.json().await.unwrap();
    assert_eq!(same["generation"], 1);

    // A file that does not load: 422, the old version keeps serving.
    std::fs::write(&wasm, b"not a component").unwrap();
    assert_error(
        api.post("/v1/plugins/bot/reload", None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
    )
    .await;
    let failed = events.next_named("plugin").await;
    assert!(failed.data["reload_error"].is_string(), "{:?}", failed.data);
    let listed = api.json("/v1/plugins").await;
    assert_eq!(
        (listed[0]["generation"].as_u64(), listed[0]["digest"].as_str()),
        (Some(1), Some(digest.as_str()))
    );
    assert_eq!(host.say("s", "!ping").await, ["pong"]);

    // Another component: 200, a new generation with a new digest.
    std::fs::copy(plugin_path("probe"), &wasm).unwrap();
    let reloaded = api.post("/v1/plugins/bot/reload", None).await;
    assert_eq!(reloaded.status(), StatusCode::OK);
    let reloaded: Value = reloaded.json().await.unwrap();
    assert_eq!(reloaded["generation"], 2);
    assert_ne!(reloaded["digest"].as_str(), Some(digest.as_str()));
    assert!(reloaded["reload_error"].is_null());
    let event = events.next_named("plugin").await;
    assert_eq!(
        (event.data["name"].as_str(), event.data["generation"].as_u64()),
        (Some("bot"), Some(2))
    );
    api.stop(host).await;
}

/// The value of sample `name` with label `key` = `value` in a scrape.
fn sample(scrape: &prometheus_parse::Scrape, name: &str, key: &str, value: &str) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && s.labels.get(key) == Some(value))
        .map(|s| match &s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => *v,
            prometheus_parse::Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
            other => panic!("unexpected sample {other:?}"),
        })
}

async fn scrape(api: &Api) -> prometheus_parse::Scrape {
    let response = api.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("metrics parse")
}

#[tokio::test]
async fn metrics_parse_and_count_events() {
    let config = TestConfig::new(&format!(
        "{ECHO_ALONE}\n[plugins.hostile]\npath = \"{{hostile}}\"\n\n[sessions.h]\nchannel = \"sim\"\nplugins = [\"hostile\"]\n\n[sessions.idle]\nchannel = \"sim\"\nautostart = false\n"
    ));
    let host = config.started().await;
    let api = Api::serve(&host).await;

    for session in ["s", "h"] {
        host.supervisor.flush(session).await.unwrap();
    }
    let before = scrape(&api).await;
    let events_in = sample(&before, "purr_events_in_total", "session", "s").expect("events in of s");
    let events_out = sample(&before, "purr_events_out_total", "session", "s").unwrap_or(0.0);
    for text in ["!ping", "!echo a", "!echo b"] {
        assert_eq!(host.say("s", text).await.len(), 1);
    }
    host.say("h", "unreachable").await;
    let after = scrape(&api).await;
    assert_eq!(
        sample(&after, "purr_events_in_total", "session", "s"),
        Some(events_in + 3.0)
    );
    assert_eq!(
        sample(&after, "purr_events_out_total", "session", "s"),
        Some(events_out + 3.0)
    );
    assert_eq!(
        sample(&after, "purr_plugin_traps_total", "plugin", "hostile"),
        Some(1.0)
    );
    assert_eq!(sample(&after, "purr_plugin_traps_total", "plugin", "echo"), Some(0.0));
    let handled = sample(&after, "purr_handler_duration_seconds_count", "plugin", "echo")
        .or_else(|| sample(&after, "purr_handler_duration_seconds", "plugin", "echo"))
        .expect("echo's handler histogram");
    assert!(handled >= 4.0, "started, connected and 3 messages: {handled}");
    assert_eq!(sample(&after, "purr_queue_depth", "session", "s"), Some(0.0));
    assert_eq!(
        sample(&after, "purr_queue_depth", "session", "idle"),
        None,
        "not running"
    );
    assert_eq!(sample(&after, "purr_sessions", "status", "connected"), Some(2.0));
    assert_eq!(sample(&after, "purr_sessions", "status", "stopped"), Some(1.0));
    assert_eq!(sample(&after, "purr_sessions", "status", "failed"), Some(0.0));
    assert_eq!(sample(&after, "purr_plugin_reloads_total", "plugin", "echo"), Some(0.0));
    api.stop(host).await;
}

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let config = TestConfig::new(ECHO_ALONE);
    let host = config.host().await;
    let api = Api::serve(&host).await;
    let text = api
        .send(Method::GET, "/v1/openapi.json", None, None)
        .await
        .text()
        .await
        .unwrap();
    let document: Value = serde_json::from_str(&text).expect("JSON");
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        document["openapi"]
    );
    let spec = oas3::from_json(&text).expect("a valid OpenAPI 3.1 document");
    let paths = spec.paths.expect("paths");
    let expected = [
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/v1/sessions", "get"),
        ("/v1/sessions", "post"),
        ("/v1/sessions/{name}", "get"),
        ("/v1/sessions/{name}/start", "post"),
        ("/v1/sessions/{name}/pair-code", "post"),
        ("/v1/sessions/{name}/disconnect", "post"),
        ("/v1/sessions/{name}/destroy", "post"),
        ("/v1/sessions/{name}/qr", "get"),
        ("/v1/sessions/{name}/messages", "post"),
        ("/v1/sessions/{name}/sim/inbound", "post"),
        ("/v1/sessions/{name}/sim/outbound", "get"),
        ("/v1/plugins", "get"),
        ("/v1/plugins/{name}/reload", "post"),
        ("/v1/plugins/{name}/shadow", "post"),
        ("/v1/plugins/{name}/shadow", "delete"),
        ("/v1/plugins/{name}/promote", "post"),
        ("/v1/events", "get"),
        ("/metrics", "get"),
        ("/v1/openapi.json", "get"),
    ];
    for (path, method) in expected {
        let item = paths.get(path).unwrap_or_else(|| panic!("{path} missing"));
        let operation = match method {
            "get" => item.get.as_ref(),
            "delete" => item.delete.as_ref(),
            _ => item.post.as_ref(),
        };
        assert!(operation.is_some(), "{method} {path} missing");
    }
    assert_eq!(
        paths.len(),
        expected.iter().map(|(p, _)| p).collect::<BTreeSet<_>>().len(),
        "no other paths"
    );
    // The schemas the routes answer with are named and described.
    let schemas = &document["components"]["schemas"];
    for name in ["SessionInfo", "PluginStatus", "ErrorBody", "NewSession"] {
        assert!(schemas[name].is_object(), "schema {name} missing");
    }
    assert_eq!(document["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    api.stop(host).await;
}

#[tokio::test]
async fn a_shadow_is_attached_shown_promoted_and_dropped_through_the_api() {
    let config = TestConfig::new(ECHO_ALONE);
    let host = config.started().await;
    let api = Api::serve(&host).await;
    let shadow = |path: &std::path::Path| Some(json!({ "path": path }));

    assert_error(
        api.post("/v1/plugins/nope/shadow", shadow(&plugin_path("tagged-v2")))
            .await,
        StatusCode::NOT_FOUND,
        "unknown_plugin",
    )
    .await;
    assert_error(
        api.post("/v1/plugins/echo/promote", None).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert_error(
        api.send(Method::DELETE, "/v1/plugins/echo/shadow", None, Some(TOKEN))
            .await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert_error(
        api.post("/v1/plugins/echo/shadow", shadow(std::path::Path::new("missing.wasm")))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
    )
    .await;
    assert_error(
        api.post("/v1/plugins/echo/shadow", Some(json!({"file": "x"}))).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;

    let attached: Value = api
        .post("/v1/plugins/echo/shadow", shadow(&plugin_path("tagged-v2")))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(attached["compared"], 0, "{attached}");
    assert_eq!(host.say("s", "!ping").await, ["pong"]);
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    let echo = loop {
        let plugins = api.json("/v1/plugins").await;
        let echo = plugins[0].clone();
        if echo["shadow"]["differing"] == 1 {
            break echo;
        }
        assert!(tokio::time::Instant::now() < deadline, "never compared: {echo}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let difference = &echo["shadow"]["recent"][0]["differences"][0];
    assert_eq!(
        (difference["live"].as_str(), difference["candidate"].as_str()),
        (Some("pong"), Some("v2 !ping")),
        "{echo}"
    );

    let promoted: Value = api.post("/v1/plugins/echo/promote", None).await.json().await.unwrap();
    assert_eq!(promoted["generation"], 2);
    assert!(promoted["shadow"].is_null(), "{promoted}");
    assert_eq!(host.say("s", "!ping").await, ["v2 !ping"]);

    api.post("/v1/plugins/echo/shadow", shadow(&plugin_path("echo"))).await;
    let dropped = api
        .send(Method::DELETE, "/v1/plugins/echo/shadow", None, Some(TOKEN))
        .await;
    assert_eq!(dropped.status(), StatusCode::OK);
    assert!(api.json("/v1/plugins").await[0]["shadow"].is_null());
    api.stop(host).await;
}
