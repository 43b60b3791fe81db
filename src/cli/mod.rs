//! The `purr` command line.
//!
//! One module per command: [`run`] (the host), [`check`] (validate config
//! and plugins), [`chat`] (one sim session on stdin/stdout), [`sim`] (the
//! sim network's other side, across processes), [`dead_letters`] and
//! [`backup`] (`purr backup` / `purr restore`), [`replay`] (a candidate
//! plugin over a session's journaled events);
//! [`manage`], [`events`], [`pair`] and [`rollout`] (shadows, promotion) manage a running host through its control API
//! ([`remote`] is their client); [`new`] creates a plugin project;
//! [`health`] probes a host's `/healthz` or `/readyz` for scripts and
//! container health checks; [`shell`] prints completions and the man page. Logs go
//! to stderr through `tracing` ([`logging`]: text or JSON lines);
//! `RUST_LOG` filters them.

mod backup;
mod chat;
mod check;
mod dead_letters;
mod events;
mod health;
mod logging;
mod manage;
mod new;
mod pair;
mod remote;
mod replay;
mod rollout;
mod run;
mod shell;
mod sim;
mod terminal;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use self::logging::LogFormat;
use crate::config::{Config, ConfigErrors};

/// A bot runtime: chat sessions routed into sandboxed WebAssembly plugins.
#[derive(Debug, Parser)]
#[command(name = "purr", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The log lines on stderr: `text`, or `json` (one object per line).
    #[arg(long, global = true, value_enum, default_value_t, env = "PURR_LOG_FORMAT")]
    log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the host: start every autostart session and serve until SIGINT/SIGTERM.
    Run(ConfigArg),
    /// Validate the config and compile and link every plugin; start nothing.
    Check(ConfigArg),
    /// Run one session on the sim network: stdin lines in, replies out.
    Chat(chat::ChatArgs),
    /// Send to sim sessions and read what they sent, through the database.
    #[command(subcommand)]
    Sim(sim::SimCommand),
    /// List the events whose plugin chain kept failing.
    DeadLetters(dead_letters::DeadLetterArgs),
    /// Write a consistent copy of the database to FILE (also while the host runs).
    Backup(backup::BackupArgs),
    /// Put a backup in place of the config's database, which must not exist yet.
    Restore(backup::RestoreArgs),
    /// List the sessions of a running host.
    List(remote::RemoteArgs),
    /// Start a session of a running host (it shows a QR if it is not linked).
    Start(manage::SessionArgs),
    /// Disconnect a session of a running host (it stays linked).
    Disconnect(manage::SessionArgs),
    /// Log a session of a running host out for good (it needs a new QR).
    Destroy(manage::SessionArgs),
    /// Link a WhatsApp account to a session of a running host: draws the QR
    /// in the terminal (or prints a pair code with --phone), exits when linked.
    Pair(pair::PairArgs),
    /// Send a text through a session of a running host.
    Send(manage::SendArgs),
    /// Follow a running host's live events, one line each.
    Events(events::EventsArgs),
    /// List the plugins of a running host.
    Plugins(remote::RemoteArgs),
    /// Run a candidate plugin over a session's journaled events, sandboxed,
    /// and show where it differs from what the live chain sent (exit 1 if anywhere).
    Replay(replay::ReplayArgs),
    /// Run a candidate as a plugin's shadow on a running host: it gets every
    /// live event, without effects, and is compared (or --drop it).
    Shadow(rollout::ShadowArgs),
    /// Make a plugin's shadow its serving version on a running host (a hot swap).
    Promote(rollout::PromoteArgs),
    /// Ask a running host's /healthz (or /readyz with --ready): exit 0 when it answers 200.
    Health(health::HealthArgs),
    /// Create a plugin project (Rust, JavaScript, Python or C) from a template.
    New(new::NewArgs),
    /// Print a shell completion script (bash, zsh, fish, ...).
    Completions(shell::CompletionsArgs),
    /// Print the man page (roff): `purr man | man -l -`.
    Man,
}

/// The `-c/--config` option shared by the commands.
#[derive(Debug, clap::Args)]
struct ConfigArg {
    /// The config file.
    #[arg(short, long, default_value = "purr.toml", env = "PURR_CONFIG")]
    config: PathBuf,
}

impl ConfigArg {
    /// Loads the config, printing every error to stderr on failure.
    fn load(&self) -> Result<Config, ExitCode> {
        Config::load(&self.config).map_err(|errors| report_config_errors(&errors))
    }
}

fn report_config_errors(errors: &ConfigErrors) -> ExitCode {
    eprint!("{errors}");
    eprintln!("{} problem(s) in the config", errors.0.len());
    ExitCode::from(2)
}

/// Parses the command line and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = match cli.command {
        Command::Run(_) | Command::Check(_) => "info",
        _ => "warn",
    };
    logging::init(cli.log_format, default_level);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("purr: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => run::run(args).await,
            Command::Check(args) => check::check(args).await,
            Command::Chat(args) => chat::chat(args).await,
            Command::Sim(command) => sim::sim(command).await,
            Command::DeadLetters(args) => dead_letters::dead_letters(args).await,
            Command::Backup(args) => backup::backup(args).await,
            Command::Restore(args) => backup::restore(args).await,
            Command::List(args) => Ok(manage::list(args).await),
            Command::Start(args) => Ok(manage::lifecycle(manage::Action::Start, args).await),
            Command::Disconnect(args) => Ok(manage::lifecycle(manage::Action::Disconnect, args).await),
            Command::Destroy(args) => Ok(manage::lifecycle(manage::Action::Destroy, args).await),
            Command::Pair(args) => Ok(pair::pair(args).await),
            Command::Send(args) => Ok(manage::send(args).await),
            Command::Events(args) => Ok(events::events(args).await),
            Command::Plugins(args) => Ok(manage::plugins(args).await),
            Command::Replay(args) => replay::replay(args).await,
            Command::Shadow(args) => Ok(rollout::shadow(args).await),
            Command::Promote(args) => Ok(rollout::promote(args).await),
            Command::Health(args) => Ok(health::health(args).await),
            Command::New(args) => new::new(args),
            Command::Completions(args) => {
                shell::completions(args);
                Ok(ExitCode::SUCCESS)
            }
            Command::Man => shell::man().map(|()| ExitCode::SUCCESS),
        }
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("purr: {error:#}");
            ExitCode::FAILURE
        }
    }
}
