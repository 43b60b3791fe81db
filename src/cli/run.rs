//! `purr run`: the host process.
//!
//! Starts the control API (on `[host] api`, see [`crate::control`]) and
//! every autostart session, and serves until SIGINT or SIGTERM, then stops
//! cleanly within `[host] shutdown_grace_ms`: the API stops taking requests
//! (live event streams end, requests in flight get the grace), and sessions
//! disconnect (auth kept) after handling what they queued — or, once the
//! grace is over, after their current event, the rest left in the journal
//! for the next start. A second signal exits at once (status 130).
//! Meanwhile the config file and plugin files are watched and changes
//! applied live (see [`crate::reload`]).

use std::process::ExitCode;
use std::time::Duration;

use super::ConfigArg;
use crate::control::{self, ApiToken};
use crate::reload;
use crate::supervisor::Supervisor;

pub async fn run(args: ConfigArg) -> anyhow::Result<ExitCode> {
    let config = match args.load() {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    let config_path = config.source.clone();
    let api = config.host.api.clone();
    let grace = Duration::from_millis(config.host.shutdown_grace_ms);
    let token = ApiToken::for_host(&config.host)?;
    let supervisor = Supervisor::new(config).await?;
    let server = control::bind(supervisor.clone(), &api, token).await?;
    supervisor.start_autostart().await;
    let _watcher = reload::watch(supervisor.clone(), &config_path, Box::new(|config| config))?;
    for session in supervisor.list().await? {
        tracing::info!(session = %session.name, status = %session.status, channel = %session.channel, "session");
    }
    tracing::info!("purr is running; SIGINT or SIGTERM stops it");
    shutdown_signal().await?;
    tracing::info!(
        grace_ms = grace.as_millis() as u64,
        "stopping: draining requests and sessions (a second SIGINT or SIGTERM exits at once)"
    );
    tokio::spawn(async {
        if shutdown_signal().await.is_ok() {
            tracing::warn!("second signal: exiting now; unfinished journaled events run at the next start");
            std::process::exit(130);
        }
    });
    tokio::join!(server.shutdown(grace), supervisor.stop());
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result?,
        _ = terminate.recv() => {}
    }
    Ok(())
}
