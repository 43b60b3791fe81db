//! `purr chat`: one session on the sim network, driven from a terminal or a pipe.
//!
//! Contract (tests and users rely on it):
//! - each stdin line is one inbound text message from `--from` (default
//!   `user`, i.e. `user@sim`) in the direct chat with that user;
//! - every outbound text the session sends (send-text, reply) is printed
//!   to stdout as exactly one line containing only that text (a newline
//!   inside a text is printed as the two characters `\n`);
//! - logs go to stderr;
//! - at the end of stdin it waits until the queue has drained, then exits 0.
//!
//! The session runs on the sim channel whatever its config says; its kv
//! data and sim pairing persist in `data_dir` between runs. Plugin and
//! config changes are applied live, as in `purr run`.
//!
//! From a pipe, lines are pipelined: each is queued without waiting for
//! its journal commit, up to [`PIPELINE`] in flight, so many lines share
//! a commit; a line that could not be journaled still ends the chat with
//! the error. From a terminal each line waits for its commit, as typed.
//! Replies are written through a buffer flushed whenever no more are
//! waiting, so a terminal shows each at once and a pipe gets them in
//! large writes.

use std::collections::VecDeque;
use std::io::IsTerminal as _;
use std::process::ExitCode;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::sync::{mpsc, oneshot};

use super::ConfigArg;
use super::terminal::one_line;
use crate::channel::sim::{SimNetwork, SimOutbound};
use crate::config::{ChannelKind, Config};
use crate::reload;
use crate::session::State;
use crate::supervisor::Supervisor;

/// Piped lines queued and not yet known to be journaled, at most.
const PIPELINE: usize = 4096;
/// How much of stdin is read at a time.
const READ_BUFFER: usize = 64 * 1024;

/// Arguments of `purr chat`.
#[derive(Debug, clap::Args)]
pub struct ChatArgs {
    /// The session to talk to, as named in the config.
    session: String,
    #[command(flatten)]
    config: ConfigArg,
    /// Who the messages come from (a sim user name or address).
    #[arg(long, default_value = "user")]
    from: String,
}

pub async fn chat(args: ChatArgs) -> anyhow::Result<ExitCode> {
    let config = match args.config.load() {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    if !config.sessions.contains_key(&args.session) {
        let known: Vec<_> = config.sessions.keys().map(String::as_str).collect();
        anyhow::bail!(
            "no session {:?} in {} (sessions: {})",
            args.session,
            config.source.display(),
            known.join(", ")
        );
    }
    let only_this_session = {
        let session = args.session.clone();
        move |mut config: Config| {
            config.sessions.retain(|name, _| *name == session);
            for session in config.sessions.values_mut() {
                session.channel = ChannelKind::Sim;
            }
            config
        }
    };
    let config_path = config.source.clone();
    let supervisor = Supervisor::new(only_this_session(config)).await?;
    let _watcher = reload::watch(supervisor.clone(), &config_path, Box::new(only_this_session))?;
    let outbound = supervisor.sim().subscribe();
    let (stop_printer, printer_stopped) = oneshot::channel();
    let printer = tokio::spawn(print_texts(args.session.clone(), outbound, printer_stopped));

    supervisor.start(&args.session).await?;
    let status = supervisor
        .wait_for(&args.session, |s| {
            matches!(s.state, State::Connected | State::Failed) || s.qr.is_some()
        })
        .await?;
    if let Some(qr) = status.qr {
        eprintln!("[purr] new sim account: showing QR {} until it links itself", qr.code);
    }
    let status = supervisor
        .wait_for(&args.session, |s| matches!(s.state, State::Connected | State::Failed))
        .await?;
    if status.state == State::Failed {
        anyhow::bail!(
            "session {} failed: {}",
            args.session,
            status.last_error.unwrap_or_default()
        );
    }

    let window = if std::io::stdin().is_terminal() { 1 } else { PIPELINE };
    let mut in_flight = VecDeque::with_capacity(window);
    let mut lines = BufReader::with_capacity(READ_BUFFER, tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let commit = supervisor
            .sim()
            .inject_text_pipelined(&args.session, &args.from, &line)
            .await?;
        in_flight.push_back(commit);
        while in_flight.len() >= window
            && let Some(commit) = in_flight.pop_front()
        {
            SimNetwork::journaled(&args.session, commit).await?;
        }
    }
    for commit in in_flight {
        SimNetwork::journaled(&args.session, commit).await?;
    }
    supervisor.flush(&args.session).await?;
    // Every send of the drained events is already in the printer's queue.
    let _ = stop_printer.send(());
    printer.await??;
    supervisor.stop().await;
    Ok(ExitCode::SUCCESS)
}

type Stdout = BufWriter<tokio::io::Stdout>;

/// Prints the session's outbound texts, one line each, until told to stop
/// (then prints what is still queued). Flushes whenever it has printed
/// everything waiting.
async fn print_texts(
    session: String,
    mut outbound: mpsc::UnboundedReceiver<SimOutbound>,
    mut stop: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    let mut stdout = BufWriter::new(tokio::io::stdout());
    loop {
        let sent = tokio::select! {
            sent = outbound.recv() => sent,
            _ = &mut stop => {
                while let Ok(sent) = outbound.try_recv() {
                    print_text(&mut stdout, &session, &sent).await?;
                }
                return stdout.flush().await;
            }
        };
        let Some(sent) = sent else {
            return stdout.flush().await;
        };
        print_text(&mut stdout, &session, &sent).await?;
        while let Ok(sent) = outbound.try_recv() {
            print_text(&mut stdout, &session, &sent).await?;
        }
        stdout.flush().await?;
    }
}

async fn print_text(stdout: &mut Stdout, session: &str, sent: &SimOutbound) -> std::io::Result<()> {
    if sent.session != session {
        return Ok(());
    }
    if let Some(text) = sent.action.text() {
        stdout.write_all(one_line(text).as_bytes()).await?;
        stdout.write_all(b"\n").await?;
    }
    Ok(())
}
