//! `purr dead-letters [session]`: the events whose plugin chain kept failing.
//!
//! Reads the database of the config's `data_dir` (a running host may hold
//! it open) and prints one line per event: session, journal sequence,
//! failing plugin, error, and the event as JSON.

use std::process::ExitCode;

use super::ConfigArg;
use crate::store::Store;

#[derive(Debug, clap::Args)]
pub struct DeadLetterArgs {
    /// Only this session's.
    session: Option<String>,
    #[command(flatten)]
    config: ConfigArg,
}

pub async fn dead_letters(args: DeadLetterArgs) -> anyhow::Result<ExitCode> {
    let config = match args.config.load() {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    let store = Store::open_for(&config.host).await?;
    for dead in store.dead_letters(args.session.as_deref()).await? {
        println!(
            "{}\t{}\t{}\t{}\t{}",
            dead.session, dead.seq, dead.plugin, dead.error, dead.event
        );
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
