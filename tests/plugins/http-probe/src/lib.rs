//! `http-probe`: drives the host's `wasi:http/outgoing-handler` directly
//! (raw bindings, no SDK) so tests can see the exact error codes. For every
//! text message:
//!
//! - `get <url>` → `<status> <body>` or `error: <ErrorCode>`
//! - `post <url> <body>` → the same, with `<body>` sent as the request body
//! - `flood <n> <url>` → sends `n` GETs at once (all requests handed to the
//!   host before any is awaited), then waits for all of them and answers
//!   `ok=<responses> limited=<connection-limit-reached> other=<other errors>`

wit_bindgen::generate!({ path: "../../../wit", world: "purr:bot/plugin", generate_all });

use exports::purr::bot::handler::{Context, Event, Flow, Guest};
use purr::bot::messaging;
use purr::bot::types::Content;
use wasi::http::outgoing_handler;
use wasi::http::types::Fields;
use wasi::http::types::{
    ErrorCode, FutureIncomingResponse, IncomingResponse, Method, OutgoingBody, OutgoingRequest, Scheme,
};
use wasi::io::streams::StreamError;

struct Probe;

impl Guest for Probe {
    fn init() -> Result<(), String> {
        Ok(())
    }

    fn handle(_ctx: Context, event: Event) -> Result<Flow, String> {
        if let Event::Message(message) = event
            && !message.from_me
            && let Content::Text(text) = &message.content
        {
            let answer = run(text);
            messaging::send_text(&message.chat, &answer)?;
        }
        Ok(Flow::Next)
    }
}

fn run(text: &str) -> String {
    let mut words = text.splitn(3, ' ');
    match (words.next(), words.next(), words.next()) {
        (Some("get"), Some(url), None) => fetch(Method::Get, url, None),
        (Some("post"), Some(url), body) => fetch(Method::Post, url, Some(body.unwrap_or(""))),
        (Some("flood"), Some(n), Some(url)) => flood(n.parse().unwrap_or(0), url),
        _ => "usage: get <url> | post <url> <body> | flood <n> <url>".to_string(),
    }
}

/// A request for `url` (`http://host[:port]/path` or `https://...`).
fn request(method: &Method, url: &str) -> OutgoingRequest {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    let request = OutgoingRequest::new(Fields::new());
    request.set_method(method).unwrap();
    let scheme = match scheme {
        "https" => Scheme::Https,
        "http" => Scheme::Http,
        other => Scheme::Other(other.to_string()),
    };
    request.set_scheme(Some(&scheme)).unwrap();
    request.set_authority(Some(authority)).unwrap();
    request.set_path_with_query(Some(path)).unwrap();
    request
}

fn fetch(method: Method, url: &str, body: Option<&str>) -> String {
    let request = request(&method, url);
    let outgoing = body.map(|_| request.body().unwrap());
    let future = match outgoing_handler::handle(request, None) {
        Ok(future) => future,
        Err(code) => return format!("error: {code:?}"),
    };
    if let (Some(outgoing), Some(body)) = (outgoing, body) {
        {
            let stream = outgoing.write().unwrap();
            stream.blocking_write_and_flush(body.as_bytes()).unwrap();
        }
        OutgoingBody::finish(outgoing, None).unwrap();
    }
    match wait(&future) {
        Ok(response) => match read_body(&response) {
            Ok(text) => format!("{} {text}", response.status()),
            Err(error) => format!("error: {error}"),
        },
        Err(code) => format!("error: {code:?}"),
    }
}

/// Blocks until the response head arrives.
fn wait(future: &FutureIncomingResponse) -> Result<IncomingResponse, ErrorCode> {
    loop {
        match future.get() {
            Some(result) => return result.expect("response taken once"),
            None => future.subscribe().block(),
        }
    }
}

fn read_body(response: &IncomingResponse) -> Result<String, String> {
    let body = response.consume().map_err(|()| "body taken".to_string())?;
    let mut bytes = Vec::new();
    {
        let stream = body.stream().map_err(|()| "stream taken".to_string())?;
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => bytes.extend(chunk),
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(error)) => {
                    let code = wasi::http::types::http_error_code(&error);
                    return Err(code.map_or_else(|| error.to_debug_string(), |code| format!("{code:?}")));
                }
            }
        }
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn flood(n: usize, url: &str) -> String {
    let futures: Vec<_> = (0..n)
        .map(|_| outgoing_handler::handle(request(&Method::Get, url), None))
        .collect();
    let (mut ok, mut limited, mut other) = (0, 0, 0);
    let mut responses = Vec::new();
    for future in futures {
        match future.and_then(|future| wait(&future)) {
            Ok(response) => {
                ok += 1;
                responses.push(response); // held until all are counted
            }
            Err(ErrorCode::ConnectionLimitReached) => limited += 1,
            Err(_) => other += 1,
        }
    }
    drop(responses);
    format!("ok={ok} limited={limited} other={other}")
}

export!(Probe);
