//! `purr pair <session> [--phone +N]`: link a WhatsApp account to a
//! session of a running host from the terminal.
//!
//! Follows the session's live status (`GET /v1/events?session=`), starts it
//! (`POST .../start`, or `.../pair-code` with `--phone`), draws each new QR
//! code in the terminal as it refreshes (or prints the pair code to type on
//! the phone), and exits 0 once the session is `connected` — at once if it
//! already was. A session that fails exits 1 with its error.

use std::io::Write;
use std::process::ExitCode;

use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;
use serde_json::{Value, json};

use super::events::SseParser;
use super::remote::{Failure, Remote, RemoteArgs, segment};

/// `purr pair`.
#[derive(Debug, clap::Args)]
pub struct PairArgs {
    /// The WhatsApp session to link.
    session: String,
    /// Link by a code typed on the phone instead of scanning a QR: the
    /// account's number in international form (`+15551234567`).
    #[arg(long, value_name = "+NUMBER")]
    phone: Option<String>,
    #[command(flatten)]
    remote: RemoteArgs,
}

pub async fn pair(args: PairArgs) -> ExitCode {
    let remote = match Remote::connect(&args.remote) {
        Ok(remote) => remote,
        Err(code) => return code,
    };
    match link(&remote, &args).await {
        Ok(jid) => {
            println!("linked: session {} is connected as {jid}", args.session);
            ExitCode::SUCCESS
        }
        Err(failure) => failure.report(),
    }
}

/// What the terminal shows for one status of the session.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// Draw this QR code (valid for the seconds given).
    Qr { code: String, seconds: u64 },
    /// Print this pair code.
    PairCode(String),
    /// Linked, as this account.
    Linked(String),
    /// The session failed.
    Failed(String),
    /// Nothing to show (starting, stopped, ...).
    Wait,
}

/// Reads one `status` event's data (`{"session", "status": {...}}`).
fn step(data: &Value) -> Step {
    let status = &data["status"];
    match status["status"].as_str() {
        Some("connected") => Step::Linked(status["jid"].as_str().unwrap_or("?").to_string()),
        Some("failed") => Step::Failed(status["last_error"].as_str().unwrap_or("unknown error").to_string()),
        Some("scan-qr") => {
            if let Some(code) = status["pair_code"].as_str() {
                Step::PairCode(code.to_string())
            } else if let Some(code) = status["qr"]["code"].as_str() {
                let seconds = status["qr"]["expires_in_ms"].as_u64().unwrap_or(0) / 1000;
                Step::Qr {
                    code: code.to_string(),
                    seconds,
                }
            } else {
                Step::Wait
            }
        }
        _ => Step::Wait,
    }
}

/// Starts the session and shows what it asks for until it is linked;
/// gives the account's JID.
async fn link(remote: &Remote, args: &PairArgs) -> Result<String, Failure> {
    let session = segment(&args.session);
    // Follow first, so no status between the start and the stream is missed.
    let mut stream = remote.stream(&format!("/v1/events?session={session}")).await?;
    match &args.phone {
        Some(phone) => {
            let body = json!({ "phone": phone });
            remote
                .post(&format!("/v1/sessions/{session}/pair-code"), Some(&body))
                .await?
        }
        None => {
            remote
                .post(&format!("/v1/sessions/{session}/start"), None::<&()>)
                .await?
        }
    };
    let mut parser = SseParser::default();
    let mut shown: Option<Step> = None;
    loop {
        let chunk = stream
            .chunk()
            .await
            .map_err(|error| Failure(format!("the event stream broke: {error}")))?
            .ok_or_else(|| Failure(format!("the host at {} closed the event stream", remote.addr())))?;
        for event in parser.feed(&chunk) {
            if event.event != "status" {
                continue;
            }
            let data: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
            if data["session"].as_str() != Some(args.session.as_str()) {
                continue;
            }
            match step(&data) {
                Step::Linked(jid) => return Ok(jid),
                Step::Failed(error) => return Err(Failure(format!("session {} failed: {error}", args.session))),
                Step::Wait => {}
                next if shown.as_ref() != Some(&next) => {
                    show(&next)?;
                    shown = Some(next);
                }
                _ => {}
            }
        }
    }
}

/// Draws a QR code or prints a pair code.
fn show(step: &Step) -> Result<(), Failure> {
    let mut out = std::io::stdout();
    let text = match step {
        Step::Qr { code, seconds } => {
            let qr = QrCode::new(code.as_bytes()).map_err(|error| Failure(format!("drawing the QR code: {error}")))?;
            let image = qr.render::<Dense1x2>().quiet_zone(true).build();
            format!(
                "{image}\nScan with WhatsApp on the phone: Settings > Linked devices > Link a device.\n\
                 This code is replaced in {seconds} s; a new one is drawn here.\n"
            )
        }
        Step::PairCode(code) => format!(
            "Pair code: {code}\nOn the phone: WhatsApp > Settings > Linked devices > Link a device > \
             Link with phone number instead, then type the code.\n"
        ),
        _ => return Ok(()),
    };
    write!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|error| Failure(format!("writing to the terminal: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(fields: Value) -> Value {
        json!({ "session": "s", "status": fields })
    }

    #[test]
    fn statuses_become_what_the_terminal_shows() {
        let qr = status(json!({ "status": "scan-qr", "qr": { "code": "2@abc", "expires_in_ms": 60_000 } }));
        assert_eq!(
            step(&qr),
            Step::Qr {
                code: "2@abc".into(),
                seconds: 60
            }
        );
        let code = status(json!({ "status": "scan-qr", "pair_code": "ABCD-EFGH" }));
        assert_eq!(step(&code), Step::PairCode("ABCD-EFGH".into()));
        let linked = status(json!({ "status": "connected", "jid": "15551234567@s.whatsapp.net" }));
        assert_eq!(step(&linked), Step::Linked("15551234567@s.whatsapp.net".into()));
        let failed = status(json!({ "status": "failed", "last_error": "boom" }));
        assert_eq!(step(&failed), Step::Failed("boom".into()));
        assert_eq!(step(&status(json!({ "status": "starting" }))), Step::Wait);
    }
}
