//! `purr replay <session> --plugin <name>=<candidate.wasm>`: the session's
//! journaled events through its chain with the candidate in place of
//! `<name>`, sandboxed, compared with what the live chain sent (see
//! [`crate::rollout::replay`]). Prints each differing event and a summary
//! (`--json`: one report object). Exit status: 0 when every event went the
//! same, 1 when anything differed, 2 when the replay could not run — so a
//! deploy pipeline can gate on it. Reads the config's database; a running
//! host may hold it open.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use super::ConfigArg;
use crate::rollout::replay::{self, EventDifference, ReplayReport, ReplaySpec};
use crate::store::HistoryWindow;

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The session whose events to replay.
    session: String,
    /// The plugin to replace and the candidate component to run in its place.
    #[arg(long, value_name = "NAME=CANDIDATE.wasm", value_parser = plugin_swap)]
    plugin: (String, PathBuf),
    /// Only events received within this long before now (`90m`, `2h`, `7d`).
    #[arg(long, value_parser = humantime::parse_duration, conflicts_with = "last")]
    since: Option<Duration>,
    /// Only the newest N events.
    #[arg(long, value_name = "N")]
    last: Option<usize>,
    /// Print one JSON report instead of lines.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    config: ConfigArg,
}

/// `name=path`.
fn plugin_swap(value: &str) -> Result<(String, PathBuf), String> {
    match value.split_once('=') {
        Some((name, path)) if !name.is_empty() && !path.is_empty() => Ok((name.to_string(), PathBuf::from(path))),
        _ => Err("expected NAME=CANDIDATE.wasm, e.g. echo=plugins/dist/echo-next.wasm".into()),
    }
}

pub async fn replay(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let config = match args.config.load() {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    let window = match (args.since, args.last) {
        (_, Some(last)) => HistoryWindow::Last(last),
        (Some(since), None) => {
            let from = SystemTime::now().checked_sub(since).unwrap_or(SystemTime::UNIX_EPOCH);
            let from_ms = from
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis();
            HistoryWindow::Since(from_ms as i64)
        }
        (None, None) => HistoryWindow::Since(0),
    };
    let (plugin, candidate) = args.plugin;
    let spec = ReplaySpec {
        session: args.session,
        plugin,
        candidate,
        window,
    };
    let json = args.json;
    let report = replay::replay(&config, &spec, |difference| {
        if !json {
            print!("{}", event_lines(difference));
        }
    })
    .await;
    let report = match report {
        Ok(report) => report,
        Err(error) => {
            eprintln!("purr: replay: {error:#}");
            return Ok(ExitCode::from(2));
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", summary(&report));
    }
    Ok(if report.identical() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A differing event: a heading line, then one indented line per difference.
fn event_lines(difference: &EventDifference) -> String {
    let at = SystemTime::UNIX_EPOCH + Duration::from_millis(difference.received_at_ms.max(0) as u64);
    let mut lines = format!(
        "j{} {} ({}):\n",
        difference.seq,
        difference.event,
        humantime::format_rfc3339_seconds(at)
    );
    for each in &difference.differences {
        lines.push_str(&format!("  {each}\n"));
    }
    lines
}

fn summary(report: &ReplayReport) -> String {
    format!(
        "replayed {} event(s) of session {} with {} = {} in {:.2} s: {} identical, {} differing, {} failed",
        report.events,
        report.session,
        report.plugin,
        report.candidate.display(),
        report.elapsed_ms as f64 / 1000.0,
        report.identical,
        report.differing,
        report.failed,
    )
}
