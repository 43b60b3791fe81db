//! Outbound HTTP for plugins (`wasi:http`), against a real HTTP server on
//! 127.0.0.1: what `allowed_hosts` lets through and what it refuses (with
//! which error code), redirects, the timeout, size and concurrency limits,
//! metrics, a plugin stuck on a server that never answers next to a session
//! that keeps answering, and a plugin built against `purr:bot@0.1.0`.
//!
//! The guest is `tests/plugins/http-probe` (raw `wasi:http` bindings, so
//! the exact error codes show).

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use common::{TestConfig, plugin_path};
use futures_util::stream;

/// What the test server saw.
#[derive(Default)]
struct Seen {
    requests: AtomicUsize,
    active: AtomicUsize,
    max_active: AtomicUsize,
    bodies: std::sync::Mutex<Vec<String>>,
}

/// A server on 127.0.0.1:0 with the routes the tests request.
async fn server(redirect_to: String) -> (SocketAddr, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let counted = |seen: &Arc<Seen>| {
        seen.requests.fetch_add(1, Ordering::SeqCst);
    };
    let s = seen.clone();
    let app = Router::new()
        .route(
            "/hello",
            get({
                let s = s.clone();
                move || async move {
                    counted(&s);
                    "hi from the server"
                }
            }),
        )
        .route(
            "/echo",
            post({
                let s = s.clone();
                move |body: String| async move {
                    counted(&s);
                    s.bodies.lock().unwrap().push(body.clone());
                    format!("you sent: {body}")
                }
            }),
        )
        .route(
            "/redirect",
            get(move || async move { (StatusCode::FOUND, [(header::LOCATION, redirect_to)], "") }),
        )
        .route("/hang", get(std::future::pending::<String>))
        .route("/big", get(|| async { "x".repeat(5000) }))
        .route(
            "/big-stream",
            get(|| async {
                let chunks = (0..10).map(|_| Ok::<_, std::io::Error>("y".repeat(500)));
                Response::new(Body::from_stream(stream::iter(chunks)))
            }),
        )
        .route(
            "/slow",
            get({
                let s = s.clone();
                move || async move {
                    counted(&s);
                    let now = s.active.fetch_add(1, Ordering::SeqCst) + 1;
                    s.max_active.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    s.active.fetch_sub(1, Ordering::SeqCst);
                    "slow".into_response()
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (address, seen)
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `http-probe` in session `s` allowed to reach `allowed`, with test-sized limits.
fn probe_config(allowed: &[String], extra: &str) -> TestConfig {
    let list = allowed.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(", ");
    TestConfig::new(&format!(
        "[plugins.http-probe]\npath = {:?}\ntimeout_ms = 5000\nallowed_hosts = [{list}]\n\
         http_timeout_ms = 400\nhttp_max_response_bytes = 1000\nhttp_max_concurrent = 4\n{extra}\n\
         [sessions.s]\nchannel = \"sim\"\nplugins = [\"http-probe\"]\n",
        plugin_path("http-probe").display().to_string()
    ))
}

/// The value of metric `name` for plugin `http-probe`.
fn metric(host: &common::Host, name: &str) -> f64 {
    host.metric(name, &[("plugin", "http-probe")])
}

#[tokio::test]
async fn allowed_requests_go_both_ways() {
    let (server, seen) = server(String::new()).await;
    let config = probe_config(&[format!("http://{server}")], "");
    let host = config.started().await;
    assert_eq!(
        host.say("s", &format!("get http://{server}/hello")).await,
        ["200 hi from the server"]
    );
    assert_eq!(
        host.say("s", &format!("post http://{server}/echo a body with spaces"))
            .await,
        ["200 you sent: a body with spaces"]
    );
    assert_eq!(*seen.bodies.lock().unwrap(), ["a body with spaces"]);
    assert_eq!(metric(&host, "purr_http_requests_total"), 2.0);
    assert_eq!(metric(&host, "purr_http_denied_total"), 0.0);
    host.stop().await;
}

#[tokio::test]
async fn requests_outside_allowed_hosts_are_denied_and_never_sent() {
    let (server, seen) = server(String::new()).await;
    let port = server.port();
    let config = probe_config(
        &[format!("http://127.0.0.1:{port}"), "http://*.localhost".to_string()],
        "",
    );
    let host = config.started().await;
    for (what, url) in [
        ("another host", format!("http://localhost:{port}/hello")),
        ("another scheme", format!("https://127.0.0.1:{port}/hello")),
        ("another port", format!("http://127.0.0.1:{}/hello", closed_port())),
        ("wildcard, other port", format!("http://api.localhost:{port}/hello")),
        ("wildcard, not a subdomain", "http://localhost/hello".to_string()),
    ] {
        assert_eq!(
            host.say("s", &format!("get {url}")).await,
            ["error: ErrorCode::HttpRequestDenied"],
            "{what}: {url}"
        );
    }
    assert_eq!(seen.requests.load(Ordering::SeqCst), 0, "nothing reached the server");
    assert_eq!(metric(&host, "purr_http_denied_total"), 5.0);
    assert_eq!(metric(&host, "purr_http_requests_total"), 0.0);
    // A name the wildcard covers passes the list: it then fails to resolve
    // (no DNS on a test machine) or, where `*.localhost` resolves to
    // loopback, is refused as a non-public address a wildcard cannot reach.
    let answer = host.say("s", "get http://api.localhost/hello").await;
    assert_eq!(answer.len(), 1);
    assert!(
        answer[0].starts_with("error: ErrorCode::DnsError") || answer[0] == "error: ErrorCode::DestinationIpProhibited",
        "a wildcard match is not refused by the list: {answer:?}"
    );
    host.stop().await;
}

#[tokio::test]
async fn a_literal_name_may_reach_loopback() {
    let (server, _) = server(String::new()).await;
    let config = probe_config(&[format!("http://localhost:{}", server.port())], "");
    let host = config.started().await;
    assert_eq!(
        host.say("s", &format!("get http://localhost:{}/hello", server.port()))
            .await,
        ["200 hi from the server"]
    );
    host.stop().await;
}

#[tokio::test]
async fn a_redirect_is_returned_not_followed() {
    let (elsewhere, elsewhere_seen) = server(String::new()).await;
    let (server, _) = server(format!("http://{elsewhere}/hello")).await;
    let config = probe_config(&[format!("http://{server}")], "");
    let host = config.started().await;
    assert_eq!(host.say("s", &format!("get http://{server}/redirect")).await, ["302 "]);
    assert_eq!(
        elsewhere_seen.requests.load(Ordering::SeqCst),
        0,
        "the redirect target was not requested"
    );
    host.stop().await;
}

#[tokio::test]
async fn limits_give_the_guest_an_error_and_the_session_goes_on() {
    let (server, seen) = server(String::new()).await;
    let config = probe_config(&[format!("http://{server}")], "");
    let host = config.started().await;

    let timeout = host.say("s", &format!("get http://{server}/hang")).await;
    assert_eq!(timeout.len(), 1, "{timeout:?}");
    assert!(
        timeout[0].starts_with("error: ") && timeout[0].contains("Timeout"),
        "a server that never answers: {timeout:?}"
    );
    assert_eq!(
        host.say("s", &format!("get http://{server}/big")).await,
        ["error: ErrorCode::HttpResponseBodySize(Some(5000))"],
        "content-length above http_max_response_bytes"
    );
    // Cut while streaming: wasmtime-wasi-http hands a body error to the
    // guest as a stream error carrying the message (no error code).
    assert_eq!(
        host.say("s", &format!("get http://{server}/big-stream")).await,
        ["error: HTTP response body size exceeds limit: 1000 bytes"],
        "a streamed body cut at http_max_response_bytes"
    );
    for round in 0..2 {
        assert_eq!(
            host.say("s", &format!("flood 100 http://{server}/slow")).await,
            ["ok=4 limited=96 other=0"],
            "round {round}: http_max_concurrent = 4"
        );
    }
    assert_eq!(
        seen.max_active.load(Ordering::SeqCst),
        4,
        "never more than 4 at the server"
    );
    assert_eq!(
        host.say("s", &format!("get http://{server}/hello")).await,
        ["200 hi from the server"],
        "the session goes on"
    );
    assert!(metric(&host, "purr_http_errors_total") >= 3.0 + 2.0 * 96.0);
    assert!(host.supervisor.store().dead_letters(None).await.unwrap().is_empty());
    host.stop().await;
}

#[tokio::test]
async fn a_plugin_stuck_on_a_server_is_cut_at_its_timeout_and_other_sessions_answer() {
    let (server, _) = server(String::new()).await;
    let body = format!(
        "[plugins.http-probe]\npath = {:?}\ntimeout_ms = 1500\nallowed_hosts = [\"http://{server}\"]\n\
         http_timeout_ms = 600000\n\n\
         [plugins.echo]\npath = \"{{echo}}\"\n\n\
         [sessions.hostile]\nchannel = \"sim\"\nplugins = [\"http-probe\"]\n\n\
         [sessions.calm]\nchannel = \"sim\"\nplugins = [\"echo\"]\n",
        plugin_path("http-probe").display().to_string()
    );
    let config = TestConfig::new(&body);
    let host = Arc::new(config.started().await);

    let stuck = {
        let host = host.clone();
        tokio::spawn(async move { host.say("hostile", &format!("get http://{server}/hang")).await })
    };
    // While the hostile session waits on the server, the calm one answers.
    for n in 0..20 {
        assert_eq!(host.say("calm", &format!("!echo {n}")).await, [n.to_string()]);
    }
    // The stuck call is cut at timeout_ms (not http_timeout_ms): the event
    // fails, nothing is sent, and the session takes the next event.
    let answered = tokio::time::timeout(Duration::from_secs(30), stuck)
        .await
        .expect("cut")
        .unwrap();
    assert!(answered.is_empty(), "{answered:?}");
    let dead = host.supervisor.store().dead_letters(Some("hostile")).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert!(dead[0].error.contains("deadline exceeded"), "{}", dead[0].error);
    assert_eq!(
        host.say("hostile", &format!("get http://{server}/hello")).await,
        ["200 hi from the server"]
    );
    Arc::into_inner(host).expect("one owner").stop().await;
}

#[tokio::test]
async fn a_plugin_built_against_0_1_0_still_links_and_runs() {
    let config = TestConfig::new(&format!(
        "[plugins.legacy]\npath = {:?}\n\n[sessions.s]\nchannel = \"sim\"\nplugins = [\"legacy\"]\n",
        plugin_path("legacy").display().to_string()
    ));
    let host = config.started().await;
    assert_eq!(host.say("s", "hello").await, ["legacy hello"]);
    host.stop().await;
}

/// The same requests through each SDK's HTTP helper (`tests/plugins/fetch`,
/// `fetch-js`, `fetch-py`, one session each): both directions work, and a
/// host outside `allowed_hosts` is an error naming the refusal.
#[tokio::test]
async fn every_sdk_http_helper_gets_posts_and_is_denied_alike() {
    let (server, seen) = server(String::new()).await;
    let mut body = String::new();
    for plugin in ["fetch", "fetch-js", "fetch-py"] {
        body.push_str(&format!(
            "[plugins.{plugin}]\npath = {:?}\ntimeout_ms = 10000\nallowed_hosts = [\"http://{server}\"]\n\n\
             [sessions.{plugin}]\nchannel = \"sim\"\nplugins = [\"{plugin}\"]\n\n",
            plugin_path(plugin).display().to_string()
        ));
    }
    // Kept: its directory holds the host's database and data.
    let config = TestConfig::new(&body);
    let host = config.started().await;
    for session in ["fetch", "fetch-js", "fetch-py"] {
        assert_eq!(
            host.say(session, &format!("GET http://{server}/hello")).await,
            ["200 hi from the server"],
            "{session}"
        );
        assert_eq!(
            host.say(session, &format!("POST http://{server}/echo from {session}"))
                .await,
            [format!("200 you sent: from {session}")],
            "{session}"
        );
        let denied = host
            .say(session, &format!("GET http://localhost:{}/hello", server.port()))
            .await;
        assert_eq!(denied.len(), 1, "{session}: {denied:?}");
        assert!(
            denied[0].starts_with("error: ") && denied[0].to_lowercase().contains("denied"),
            "{session}: {denied:?}"
        );
    }
    assert_eq!(
        *seen.bodies.lock().unwrap(),
        ["from fetch", "from fetch-js", "from fetch-py"]
    );
    host.stop().await;
}
