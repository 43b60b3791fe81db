//! `purr shadow <plugin> <candidate.wasm>` (or `--drop`) and `purr promote
//! <plugin>`: a running host's shadows, through its control API (see
//! [`crate::rollout::shadow`]). Promotion lasts until the config file
//! changes or the host restarts; the command says how to make it stay.

use std::path::PathBuf;
use std::process::ExitCode;

use serde::Deserialize;

use super::manage::{parse, raw, with_remote};
use super::remote::{RemoteArgs, segment};

#[derive(Debug, clap::Args)]
pub struct ShadowArgs {
    /// The plugin to shadow.
    plugin: String,
    /// The candidate component (relative to the host's config directory).
    #[arg(required_unless_present = "drop")]
    candidate: Option<PathBuf>,
    /// Drop the plugin's shadow instead.
    #[arg(long, conflicts_with = "candidate")]
    drop: bool,
    #[command(flatten)]
    remote: RemoteArgs,
}

#[derive(Debug, clap::Args)]
pub struct PromoteArgs {
    /// The plugin whose shadow becomes its serving version.
    plugin: String,
    #[command(flatten)]
    remote: RemoteArgs,
}

/// The parts of a plugin's status the commands print.
#[derive(Deserialize)]
struct Promoted {
    name: String,
    path: PathBuf,
    generation: u64,
}

pub async fn shadow(args: ShadowArgs) -> ExitCode {
    let json = args.remote.json;
    let path = format!("/v1/plugins/{}/shadow", segment(&args.plugin));
    with_remote(&args.remote, async |remote| {
        let value = match &args.candidate {
            Some(candidate) if !args.drop => {
                let body = serde_json::json!({ "path": candidate });
                remote.post(&path, Some(&body)).await?
            }
            _ => remote.delete(&path).await?,
        };
        if json {
            return Ok(raw(&value));
        }
        Ok(match args.drop {
            true => format!("{}: shadow dropped\n", args.plugin),
            false => format!(
                "{}: {} shadows it; compare with `purr plugins`, then `purr promote {}`\n",
                args.plugin,
                value["path"].as_str().unwrap_or_default(),
                args.plugin
            ),
        })
    })
    .await
}

pub async fn promote(args: PromoteArgs) -> ExitCode {
    let json = args.remote.json;
    let path = format!("/v1/plugins/{}/promote", segment(&args.plugin));
    with_remote(&args.remote, async |remote| {
        let value = remote.post(&path, None::<&()>).await?;
        if json {
            return Ok(raw(&value));
        }
        let promoted: Promoted = parse(value)?;
        Ok(format!(
            "{}: {} serves (generation {}). To keep it after a restart or a config change, set `path = \"{}\"` and remove `shadow` in [plugins.{}].\n",
            promoted.name,
            promoted.path.display(),
            promoted.generation,
            promoted.path.display(),
            promoted.name
        ))
    })
    .await
}
