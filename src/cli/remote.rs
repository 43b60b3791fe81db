//! The control API's client for the commands that manage a running host
//! (`purr list`, `start`, `events`, ...; see `docs/api.md`).
//!
//! Owns where the host is and the token (`--api`/`--token`, else
//! `PURR_API_TOKEN`, else the config's `[host] api` and the token the host
//! uses: `PURR_API_TOKEN_FILE`, `[host] api_token_file` or
//! `<data_dir>/api-token`), the requests, and turning every failure into
//! one line: the API's own error message, or "no purr host answers" when
//! nothing listens at the address.

use std::process::ExitCode;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Serialize;
use serde_json::Value;

use super::ConfigArg;
use crate::control;

/// How long a request (other than the event stream) may take: lifecycle
/// actions wait for a session to drain its queue.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Options every command talking to a running host takes.
#[derive(Debug, clap::Args)]
pub struct RemoteArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Address of the host's control API [default: the config's `[host] api`].
    #[arg(long, value_name = "HOST:PORT")]
    api: Option<String>,
    /// The API token [default: the host's: `PURR_API_TOKEN_FILE`, `[host]
    /// api_token_file` or `<data_dir>/api-token` of the config].
    #[arg(long, env = "PURR_API_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Print the API's JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Why a command failed; printed as `error: <message>`.
#[derive(Debug)]
pub struct Failure(pub String);

impl Failure {
    /// Prints the failure and gives the process's exit code.
    pub fn report(self) -> ExitCode {
        eprintln!("error: {}", self.0);
        ExitCode::FAILURE
    }
}

/// A connection to one host's control API.
pub struct Remote {
    http: reqwest::Client,
    /// `host:port`, as the user gave it.
    addr: String,
    token: String,
}

impl Remote {
    /// Resolves address and token; reads the config only for what the
    /// options and the environment leave open. `Err` carries the exit code
    /// after the problem was printed.
    pub fn connect(args: &RemoteArgs) -> Result<Remote, ExitCode> {
        let report = |error: anyhow::Error| Failure(format!("{error:#}")).report();
        let token = match (&args.api, &args.token) {
            // With the address given, `PURR_API_TOKEN_FILE` is enough: no config needed.
            (Some(_), None) => control::ApiToken::from_env_file()
                .map_err(report)?
                .map(|token| token.as_str().to_string()),
            (_, token) => token.clone(),
        };
        let (addr, token) = match (&args.api, token) {
            (Some(api), Some(token)) => (api.clone(), token),
            (api, token) => {
                let config = args.config.load()?;
                let token = match token {
                    Some(token) => token,
                    None => control::ApiToken::for_client(&config.host)
                        .map_err(report)?
                        .as_str()
                        .to_string(),
                };
                (api.clone().unwrap_or(config.host.api), token)
            }
        };
        let http = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|error| Failure(format!("cannot set up the HTTP client: {error}")).report())?;
        Ok(Remote { http, addr, token })
    }

    /// The API's address, `host:port`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// A request to `path` (starting with `/`) with the token.
    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("http://{}{path}", self.addr))
            .bearer_auth(&self.token)
    }

    /// `GET path`: the JSON answer.
    pub async fn get(&self, path: &str) -> Result<Value, Failure> {
        self.json(self.request(Method::GET, path)).await
    }

    /// `POST path` with a JSON body (or none): the JSON answer.
    pub async fn post(&self, path: &str, body: Option<&impl Serialize>) -> Result<Value, Failure> {
        let mut request = self.request(Method::POST, path);
        if let Some(body) = body {
            request = request.json(body);
        }
        self.json(request).await
    }

    /// `DELETE path`: the JSON answer.
    pub async fn delete(&self, path: &str) -> Result<Value, Failure> {
        self.json(self.request(Method::DELETE, path)).await
    }

    /// `GET path` answered with a stream (server-sent events): the open
    /// response, no timeout.
    pub async fn stream(&self, path: &str) -> Result<Response, Failure> {
        let request = self
            .request(Method::GET, path)
            .header(reqwest::header::ACCEPT, "text/event-stream");
        self.send(request).await
    }

    async fn json(&self, request: RequestBuilder) -> Result<Value, Failure> {
        let response = self.send(request.timeout(REQUEST_TIMEOUT)).await?;
        response
            .json()
            .await
            .map_err(|error| Failure(format!("the host at {} answered no JSON: {error}", self.addr)))
    }

    /// Sends `request`; any status but 2xx becomes the API's error message.
    async fn send(&self, request: RequestBuilder) -> Result<Response, Failure> {
        let response = request.send().await.map_err(|error| self.unreachable(&error))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.text().await.unwrap_or_default();
        Err(Failure(api_error_message(status, &body)))
    }

    fn unreachable(&self, error: &reqwest::Error) -> Failure {
        if error.is_connect() {
            Failure(format!("no purr host answers at {}; is `purr run` running?", self.addr))
        } else if error.is_timeout() {
            Failure(format!("the host at {} did not answer in time", self.addr))
        } else {
            Failure(format!("talking to the host at {}: {error}", self.addr))
        }
    }
}

/// The message of the API's error body (`{"error": {"code", "message"}}`),
/// or the HTTP status when the body is something else.
fn api_error_message(status: StatusCode, body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| format!("the host answered {status}"))
}

/// `name` as one path segment of a URL (percent-encoded).
pub fn segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_give_their_message_or_the_status() {
        let body = r#"{"error":{"code":"unauthorized","message":"missing or wrong API token"}}"#;
        assert_eq!(
            api_error_message(StatusCode::UNAUTHORIZED, body),
            "missing or wrong API token"
        );
        assert_eq!(
            api_error_message(StatusCode::BAD_GATEWAY, "<html>"),
            "the host answered 502 Bad Gateway"
        );
    }

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(segment("support"), "support");
        assert_eq!(segment("a b/c?"), "a%20b%2Fc%3F");
        assert_eq!(segment("é"), "%C3%A9");
    }
}
