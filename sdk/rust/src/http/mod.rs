//! A small blocking HTTP client over `wasi:http/outgoing-handler`. The host
//! sends a request only to the plugin's `allowed_hosts` (any other fails
//! with `HTTP request denied`) and does not follow redirects.
//!
//! ```ignore
//! let response = purr_sdk::http::get("https://example.org/")?;
//! ctx.send(format!("{} {}", response.status, response.text()?))?;
//! ```

pub(crate) mod error;
pub(crate) mod url;

use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{
    ErrorCode, Fields, IncomingBody, IncomingResponse, Method, OutgoingBody, OutgoingRequest, Scheme,
};
use crate::bindings::wasi::io::streams::{InputStream, StreamError};
use crate::{Error, Result};

/// `GET url`.
pub fn get(url: &str) -> Result<Response> {
    Request::get(url).send()
}

/// `POST url` with `body`.
pub fn post(url: &str, body: impl Into<Vec<u8>>) -> Result<Response> {
    Request::post(url).body(body).send()
}

/// A request to build and [`send`](Request::send).
#[derive(Debug, Clone)]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Request {
    /// A request with `method` (`GET`, `POST`, ... or any other token).
    pub fn new(method: &str, url: &str) -> Request {
        Request {
            method: method.to_string(),
            url: url.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn get(url: &str) -> Request {
        Request::new("GET", url)
    }

    pub fn post(url: &str) -> Request {
        Request::new("POST", url)
    }

    /// Adds a header (a name may be given several times).
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Request {
        self.headers.push((name.to_string(), value.as_ref().to_vec()));
        self
    }

    /// The body to send.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// Sends the request and reads the whole response; waits (blocks the
    /// plugin) until it is there. Errors name the `wasi:http` error code.
    pub fn send(self) -> Result<Response> {
        let target = url::Target::parse(&self.url)?;
        let headers = Fields::from_list(&self.headers).map_err(|e| Error::new(format!("HTTP header: {e:?}")))?;
        let request = OutgoingRequest::new(headers);
        let refused = |what: &str| Error::new(format!("HTTP request: invalid {what}"));
        request
            .set_method(&method(&self.method))
            .map_err(|()| refused("method"))?;
        let scheme = match target.scheme.as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => Scheme::Other(other.to_string()),
        };
        request.set_scheme(Some(&scheme)).map_err(|()| refused("scheme"))?;
        request
            .set_authority(Some(&target.authority))
            .map_err(|()| refused("authority"))?;
        request
            .set_path_with_query(Some(&target.path_with_query))
            .map_err(|()| refused("path"))?;
        let body = request.body().map_err(|()| refused("body"))?;

        let future = outgoing_handler::handle(request, None).map_err(code)?;
        {
            let stream = body.write().map_err(|()| refused("body"))?;
            // `blocking-write-and-flush` takes at most 4096 bytes a call.
            for chunk in self.body.chunks(4096) {
                stream.blocking_write_and_flush(chunk).map_err(stream_error)?;
            }
        }
        OutgoingBody::finish(body, None).map_err(code)?;

        let response = loop {
            match future.get() {
                Some(Ok(response)) => break response.map_err(code)?,
                Some(Err(())) => return Err(Error::new("HTTP response already taken")),
                None => future.subscribe().block(),
            }
        };
        read(response)
    }
}

fn method(method: &str) -> Method {
    match method.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "CONNECT" => Method::Connect,
        "OPTIONS" => Method::Options,
        "TRACE" => Method::Trace,
        "PATCH" => Method::Patch,
        _ => Method::Other(method.to_string()),
    }
}

fn code(code: ErrorCode) -> Error {
    Error::new(error::describe(&code))
}

fn stream_error(error: StreamError) -> Error {
    match error {
        StreamError::Closed => Error::new("HTTP connection closed"),
        StreamError::LastOperationFailed(io) => match crate::bindings::wasi::http::types::http_error_code(&io) {
            Some(code) => Error::new(error::describe(&code)),
            None => Error::new(format!("HTTP: {}", io.to_debug_string())),
        },
    }
}

/// The status, headers and whole body of `response`.
fn read(response: IncomingResponse) -> Result<Response> {
    let status = response.status();
    let headers = response
        .headers()
        .entries()
        .into_iter()
        .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
        .collect();
    let incoming = response
        .consume()
        .map_err(|()| Error::new("HTTP response body already taken"))?;
    let body = {
        let stream: InputStream = incoming
            .stream()
            .map_err(|()| Error::new("HTTP response body already taken"))?;
        let mut body = Vec::new();
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(bytes) => body.extend_from_slice(&bytes),
                Err(StreamError::Closed) => break body,
                Err(error) => return Err(stream_error(error)),
            }
        }
    };
    drop(IncomingBody::finish(incoming));
    Ok(Response { status, headers, body })
}

/// A response, read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// (name, value) pairs as received (names in lowercase).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<&str> {
        Ok(std::str::from_utf8(&self.body)?)
    }

    /// The body decoded from JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        Ok(serde_json::from_slice(&self.body)?)
    }
}
