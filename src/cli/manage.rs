//! `purr list | start | disconnect | destroy | send | plugins`: manage a
//! running host through its control API ([`super::remote`]).
//!
//! Each prints a readable, aligned table or line, or with `--json` the
//! API's JSON as it came; a failure prints `error: <message>` and exits
//! non-zero.

use std::process::ExitCode;

use serde::Deserialize;
use serde_json::{Value, json};

use super::remote::{Failure, Remote, RemoteArgs, segment};
use super::terminal::one_line;

/// `purr start|disconnect|destroy <session>`.
#[derive(Debug, clap::Args)]
pub struct SessionArgs {
    /// The session.
    session: String,
    #[command(flatten)]
    remote: RemoteArgs,
}

/// `purr send <session> <to> <text>`.
#[derive(Debug, clap::Args)]
pub struct SendArgs {
    /// The session that sends.
    session: String,
    /// The chat or user to send to (an address, or a sim user's name).
    to: String,
    /// The text.
    text: String,
    #[command(flatten)]
    remote: RemoteArgs,
}

/// A lifecycle action on one session.
#[derive(Debug, Clone, Copy)]
pub enum Action {
    Start,
    Disconnect,
    Destroy,
}

impl Action {
    fn path(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Disconnect => "disconnect",
            Action::Destroy => "destroy",
        }
    }
}

/// The fields of the API's `Session` that the table shows.
#[derive(Debug, Deserialize)]
struct Session {
    name: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    origin: String,
    status: String,
    jid: Option<String>,
    last_error: Option<String>,
    #[serde(default)]
    plugins: Vec<String>,
    owner: Option<String>,
}

/// The fields of the API's `Plugin` that the table shows.
#[derive(Debug, Deserialize)]
struct Plugin {
    name: String,
    #[serde(default)]
    health: String,
    #[serde(default)]
    generation: u64,
    #[serde(default)]
    source: String,
    #[serde(default)]
    traps: u64,
    last_error: Option<String>,
    reload_error: Option<String>,
    #[serde(default)]
    shadow: Option<ShadowTally>,
}

/// How a plugin's shadow compares, as `purr plugins` shows it.
#[derive(Debug, Deserialize)]
struct ShadowTally {
    compared: u64,
    identical: u64,
    candidate_errors: u64,
    dropped: u64,
}

impl ShadowTally {
    /// `12/14 same, 1 failed, 0 dropped`.
    fn cell(&self) -> String {
        format!(
            "{}/{} same, {} failed, {} dropped",
            self.identical, self.compared, self.candidate_errors, self.dropped
        )
    }
}

/// Runs `body` against the host `args` name; prints its failure.
pub(super) async fn with_remote(
    args: &RemoteArgs,
    body: impl AsyncFnOnce(Remote) -> Result<String, Failure>,
) -> ExitCode {
    let remote = match Remote::connect(args) {
        Ok(remote) => remote,
        Err(code) => return code,
    };
    match body(remote).await {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(failure) => failure.report(),
    }
}

/// The raw JSON, pretty-printed, one value.
pub(super) fn raw(value: &Value) -> String {
    format!("{value:#}\n")
}

pub(super) fn parse<T: for<'de> Deserialize<'de>>(value: Value) -> Result<T, Failure> {
    serde_json::from_value(value).map_err(|error| Failure(format!("unexpected answer from the host: {error}")))
}

pub async fn list(args: RemoteArgs) -> ExitCode {
    let json = args.json;
    with_remote(&args, async |remote| {
        let value = remote.get("/v1/sessions").await?;
        if json {
            return Ok(raw(&value));
        }
        let sessions: Vec<Session> = parse(value)?;
        let rows = sessions
            .into_iter()
            .map(|s| {
                vec![
                    s.name,
                    s.channel,
                    s.status,
                    s.origin,
                    s.owner.unwrap_or_default(),
                    s.jid.unwrap_or_default(),
                    s.plugins.join(","),
                    s.last_error.unwrap_or_default(),
                ]
            })
            .collect();
        Ok(table(
            &[
                "NAME", "CHANNEL", "STATUS", "ORIGIN", "OWNER", "JID", "PLUGINS", "ERROR",
            ],
            rows,
        ))
    })
    .await
}

pub async fn lifecycle(action: Action, args: SessionArgs) -> ExitCode {
    let json = args.remote.json;
    with_remote(&args.remote, async |remote| {
        let path = format!("/v1/sessions/{}/{}", segment(&args.session), action.path());
        let value = remote.post(&path, None::<&Value>).await?;
        if json {
            return Ok(raw(&value));
        }
        let session: Session = parse(value)?;
        let mut line = format!("{}: {}", session.name, session.status);
        if session.status == "scan-qr" {
            line.push_str(&format!(
                " (link it with the QR on the dashboard, http://{}/)",
                remote.addr()
            ));
        }
        if let Some(error) = session.last_error {
            line.push_str(&format!(" ({})", one_line(&error)));
        }
        Ok(line + "\n")
    })
    .await
}

pub async fn send(args: SendArgs) -> ExitCode {
    let json = args.remote.json;
    with_remote(&args.remote, async |remote| {
        let path = format!("/v1/sessions/{}/messages", segment(&args.session));
        let body = json!({ "to": args.to, "text": args.text });
        let value = remote.post(&path, Some(&body)).await?;
        if json {
            return Ok(raw(&value));
        }
        let id = value["id"].as_str().unwrap_or("?");
        Ok(format!("queued {id}\n"))
    })
    .await
}

pub async fn plugins(args: RemoteArgs) -> ExitCode {
    let json = args.json;
    with_remote(&args, async |remote| {
        let value = remote.get("/v1/plugins").await?;
        if json {
            return Ok(raw(&value));
        }
        let plugins: Vec<Plugin> = parse(value)?;
        let rows = plugins
            .into_iter()
            .map(|p| {
                let error = match (p.reload_error, p.last_error) {
                    (Some(reload), _) => format!("reload: {reload}"),
                    (None, Some(last)) => last,
                    (None, None) => String::new(),
                };
                vec![
                    p.name,
                    p.health,
                    p.generation.to_string(),
                    p.source,
                    p.traps.to_string(),
                    p.shadow.as_ref().map(ShadowTally::cell).unwrap_or_default(),
                    error,
                ]
            })
            .collect();
        Ok(table(
            &["NAME", "HEALTH", "GEN", "SOURCE", "TRAPS", "SHADOW", "ERROR"],
            rows,
        ))
    })
    .await
}

/// An aligned table: columns padded to their widest cell, two spaces
/// apart, empty cells shown as `-`, the last column not padded.
fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let rows: Vec<Vec<String>> = std::iter::once(headers.iter().map(|h| h.to_string()).collect())
        .chain(rows.into_iter().map(|row| {
            row.into_iter()
                .map(|cell| {
                    if cell.is_empty() {
                        "-".into()
                    } else {
                        one_line(&cell).into_owned()
                    }
                })
                .collect()
        }))
        .collect();
    let mut widths = vec![0; headers.len()];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let last = row.len() - 1;
        for (i, cell) in row.into_iter().enumerate() {
            if i == last {
                out.push_str(&cell);
            } else {
                let pad = widths[i] - cell.chars().count();
                out.push_str(&cell);
                out.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns_and_mark_empty_cells() {
        let out = table(
            &["NAME", "STATUS", "ERROR"],
            vec![
                vec!["support".into(), "connected".into(), String::new()],
                vec!["s".into(), "failed".into(), "bad\nthing".into()],
            ],
        );
        assert_eq!(
            out,
            "NAME     STATUS     ERROR\n\
             support  connected  -\n\
             s        failed     bad\\nthing\n"
        );
    }
}
