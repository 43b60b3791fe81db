//! `purr events [--session S]`: follow a running host's live events
//! (`GET /v1/events`, server-sent events) and print one line per event,
//! readable or, with `--json`, `{"id", "event", "data"}`.
//!
//! Also owns the small server-sent-events parser the command reads the
//! stream with.

use std::io::Write;
use std::process::ExitCode;

use serde_json::{Value, json};

use super::remote::{Failure, Remote, RemoteArgs, segment};
use super::terminal::one_line;
use crate::channel::Outbound;

/// `purr events`.
#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    /// Only this session's events (and plugin events).
    #[arg(long)]
    session: Option<String>,
    #[command(flatten)]
    remote: RemoteArgs,
}

pub async fn events(args: EventsArgs) -> ExitCode {
    let remote = match Remote::connect(&args.remote) {
        Ok(remote) => remote,
        Err(code) => return code,
    };
    match follow(&remote, args.session.as_deref(), args.remote.json).await {
        Ok(code) => code,
        Err(failure) => failure.report(),
    }
}

/// Prints events until the host closes the stream (a failure) or stdout
/// is closed (success: `purr events | head -3`).
async fn follow(remote: &Remote, session: Option<&str>, json: bool) -> Result<ExitCode, Failure> {
    let path = match session {
        Some(session) => format!("/v1/events?session={}", segment(session)),
        None => "/v1/events".to_string(),
    };
    let mut response = remote.stream(&path).await?;
    let mut parser = SseParser::default();
    let mut stdout = std::io::stdout();
    loop {
        let chunk = response
            .chunk()
            .await
            .map_err(|error| Failure(format!("the event stream broke: {error}")))?;
        let Some(chunk) = chunk else {
            return Err(Failure(format!(
                "the host at {} closed the event stream",
                remote.addr()
            )));
        };
        for event in parser.feed(&chunk) {
            let line = if json { event.to_json() } else { event.to_line() };
            if writeln!(stdout, "{line}").and_then(|()| stdout.flush()).is_err() {
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub id: Option<String>,
    /// The `event:` field; `message` when there is none.
    pub event: String,
    /// The `data:` lines, joined by `\n`.
    pub data: String,
}

impl SseEvent {
    /// The data as JSON, or as a JSON string when it is not JSON.
    fn data_json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|_| Value::String(self.data.clone()))
    }

    fn to_json(&self) -> String {
        json!({ "id": self.id, "event": self.event, "data": self.data_json() }).to_string()
    }

    /// A readable line: the event name, then what it says.
    fn to_line(&self) -> String {
        let data = self.data_json();
        let text = |v: &Value| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
        let session = data["session"].as_str().unwrap_or("?");
        let mut line = format!("{} ", self.event);
        match self.event.as_str() {
            "status" => {
                let fields = &data["status"];
                let status = fields["status"].as_str().or(fields.as_str()).unwrap_or("?");
                line.push_str(&format!("{session} {status}"));
                if let Some(jid) = fields["jid"].as_str() {
                    line.push_str(&format!(" jid={jid}"));
                }
                if let Some(error) = fields["last_error"].as_str() {
                    line.push_str(&format!(" error={}", one_line(error)));
                }
            }
            "message" => {
                let sender = text(&data["sender"]);
                let body = data["text"]
                    .as_str()
                    .map(one_line)
                    .unwrap_or_else(|| "(no text)".into());
                line.push_str(&format!("{session} {sender}: {body}"));
            }
            "sent" => {
                let id = text(&data["id"]);
                let action = serde_json::from_value::<Outbound>(data["action"].clone());
                match action.as_ref().ok().and_then(Outbound::text) {
                    Some(body) => line.push_str(&format!("{session} {id}: {}", one_line(body))),
                    None => line.push_str(&format!("{session} {id} {}", data["action"])),
                }
            }
            "plugin" => {
                let name = text(&data["name"]);
                let health = text(&data["health"]);
                line.push_str(&format!("{name} generation={} {health}", data["generation"]));
                if let Some(error) = data["last_error"].as_str() {
                    line.push_str(&format!(" error={}", one_line(error)));
                }
                if let Some(error) = data["reload_error"].as_str() {
                    line.push_str(&format!(" reload-error={}", one_line(error)));
                }
            }
            "lagged" => line.push_str(&format!("missed={}", data["missed"])),
            _ => line.push_str(&one_line(&self.data)),
        }
        line
    }
}

/// Splits a byte stream into server-sent events (the `text/event-stream`
/// format: `field: value` lines, a blank line ends an event, `:` starts a
/// comment). Chunks may split lines and UTF-8 characters anywhere.
#[derive(Debug, Default)]
pub struct SseParser {
    /// The bytes of the line not yet ended.
    partial: Vec<u8>,
    id: Option<String>,
    event: Option<String>,
    data: Option<String>,
}

impl SseParser {
    /// Takes the next chunk; gives the events it completed.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        self.partial.extend_from_slice(chunk);
        let mut events = Vec::new();
        while let Some(end) = self.partial.iter().position(|&b| b == b'\n') {
            let mut line: Vec<u8> = self.partial.drain(..=end).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let line = String::from_utf8_lossy(&line);
            if let Some(event) = self.line(&line) {
                events.push(event);
            }
        }
        events
    }

    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            let data = self.data.take()?;
            return Some(SseEvent {
                id: self.id.take(),
                event: self.event.take().unwrap_or_else(|| "message".into()),
                data,
            });
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "" => {} // a comment (keep-alive)
            "event" => self.event = Some(value.to_string()),
            "id" => self.id = Some(value.to_string()),
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_string()),
            },
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, event: &str, data: &str) -> SseEvent {
        SseEvent {
            id: Some(id.into()),
            event: event.into(),
            data: data.into(),
        }
    }

    #[test]
    fn parses_events_split_anywhere() {
        let stream =
            ": keep-alive\n\nid: 1\nevent: status\ndata: {\"a\":1}\n\nid:2\r\nevent:sent\r\ndata: x\r\ndata: é\r\n\r\n";
        for split in 0..stream.len() {
            let mut parser = SseParser::default();
            let mut got = parser.feed(&stream.as_bytes()[..split]);
            got.extend(parser.feed(&stream.as_bytes()[split..]));
            assert_eq!(
                got,
                [event("1", "status", "{\"a\":1}"), event("2", "sent", "x\né")],
                "split at {split}"
            );
        }
    }

    #[test]
    fn lines_say_what_happened() {
        let status = event(
            "1",
            "status",
            r#"{"session":"s","status":{"status":"connected","jid":"s@sim","qr":null,"pair_code":null,"last_error":null}}"#,
        );
        assert_eq!(status.to_line(), "status s connected jid=s@sim");
        let message = event(
            "2",
            "message",
            r#"{"session":"s","id":"m1","chat":"user@sim","sender":"user@sim","text":"hi\nthere"}"#,
        );
        assert_eq!(message.to_line(), "message s user@sim: hi\\nthere");
        let sent = event(
            "3",
            "sent",
            r#"{"session":"s","id":"o1","action":{"Text":{"chat":"user@sim","text":"pong"}}}"#,
        );
        assert_eq!(sent.to_line(), "sent s o1: pong");
        let lagged = event("4", "lagged", r#"{"missed":7}"#);
        assert_eq!(lagged.to_line(), "lagged missed=7");
        let json: Value = serde_json::from_str(&lagged.to_json()).unwrap();
        assert_eq!(json, json!({"id": "4", "event": "lagged", "data": {"missed": 7}}));
    }
}
