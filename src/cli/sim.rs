//! `purr sim`: play the other side of the sim network from a shell.
//!
//! Works on the database of the config's `data_dir`, so it reaches a host
//! running in another process:
//! - `purr sim send <session> [--from user] [text]`: queues the text (or,
//!   without one, each stdin line) in the sim network's inbox; the session
//!   gets it when it is online (within 50 ms), and again after a crash
//!   until it was journaled. Lines are committed in batches: the lines
//!   already read when one is taken (up to [`BATCH`]) go in one
//!   transaction, so a pipe is queued at database speed and a line typed
//!   at a terminal is queued at once.
//! - `purr sim log <session>`: prints each text the session sent, one per
//!   line, oldest first (needs `[sim] keep_sent = true`).

use std::process::ExitCode;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader, Lines};

use super::ConfigArg;
use super::terminal::one_line;
use crate::channel::Outbound;
use crate::channel::sim::SimNetwork;
use crate::store::Store;

/// Stdin lines queued in one transaction, at most.
const BATCH: usize = 4096;
/// How much of stdin is read at a time.
const READ_BUFFER: usize = 256 * 1024;

#[derive(Debug, clap::Subcommand)]
pub enum SimCommand {
    /// Queue inbound text messages for a session.
    Send {
        session: String,
        /// The text; without it, each stdin line is one message.
        text: Option<String>,
        /// Who the messages come from (a sim user name or address).
        #[arg(long, default_value = "user")]
        from: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Print the texts a session sent (`[sim] keep_sent = true`).
    Log {
        session: String,
        #[command(flatten)]
        config: ConfigArg,
    },
}

pub async fn sim(command: SimCommand) -> anyhow::Result<ExitCode> {
    let config = match &command {
        SimCommand::Send { config, .. } | SimCommand::Log { config, .. } => config,
    };
    let config = match config.load() {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    let store = Store::open_for(&config.host).await?;
    match command {
        SimCommand::Send {
            session, text, from, ..
        } => match text {
            Some(text) => SimNetwork::queue_texts(&store, &session, &from, vec![text]).await?,
            None => {
                let mut lines = BufReader::with_capacity(READ_BUFFER, tokio::io::stdin()).lines();
                while let Some(batch) = next_batch(&mut lines).await? {
                    SimNetwork::queue_texts(&store, &session, &from, batch).await?;
                }
            }
        },
        SimCommand::Log { session, .. } => {
            for (_id, action) in store.sim_sent_log(&session).await? {
                if let Ok(action) = serde_json::from_str::<Outbound>(&action)
                    && let Some(text) = action.text()
                {
                    println!("{}", one_line(text));
                }
            }
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// The next line and every further whole line already read (up to
/// [`BATCH`]); `None` at the end of the input.
async fn next_batch<R: AsyncRead + Unpin>(lines: &mut Lines<BufReader<R>>) -> std::io::Result<Option<Vec<String>>> {
    let Some(first) = lines.next_line().await? else {
        return Ok(None);
    };
    let mut batch = vec![first];
    while batch.len() < BATCH && lines.get_ref().buffer().contains(&b'\n') {
        match lines.next_line().await? {
            Some(line) => batch.push(line),
            None => break,
        }
    }
    Ok(Some(batch))
}
