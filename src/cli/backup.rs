//! `purr backup FILE` and `purr restore FILE`: a snapshot of the config's
//! database, taken while the host runs or not, and putting one back into
//! a data dir without a database (see `docs/backup.md`; the work is in
//! [`crate::store::backup`]).

use std::path::PathBuf;
use std::process::ExitCode;

use super::ConfigArg;
use crate::config::Config;
use crate::store::backup;

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// The backup file to write (mode 0600); it must not exist.
    file: PathBuf,
    #[command(flatten)]
    config: ConfigArg,
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// A file `purr backup` wrote.
    file: PathBuf,
    #[command(flatten)]
    config: ConfigArg,
}

/// The config's database file.
fn database(config: &Config) -> anyhow::Result<PathBuf> {
    backup::database_file(&config.host.data_dir, config.host.database.as_deref())
}

pub async fn backup(args: BackupArgs) -> anyhow::Result<ExitCode> {
    let config = match args.config.load() {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    let database = database(&config)?;
    let size = backup::write(&database, &args.file).await?;
    println!(
        "{} backed up to {} ({size} bytes)",
        database.display(),
        args.file.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn restore(args: RestoreArgs) -> anyhow::Result<ExitCode> {
    let config = match args.config.load() {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    let database = database(&config)?;
    backup::restore(&args.file, &database).await?;
    println!(
        "{} restored to {}; `purr run` starts on it (plugins are compiled again; the API token is \
         PURR_API_TOKEN, the token file, or a new {} if none was kept)",
        args.file.display(),
        database.display(),
        crate::control::token_path(&config.host.data_dir).display()
    );
    Ok(ExitCode::SUCCESS)
}
