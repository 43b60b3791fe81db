//! Logs to stderr: text (the default) or one JSON object per line.
//!
//! `--log-format json` (or `PURR_LOG_FORMAT=json`) switches to
//! tracing-subscriber's JSON formatter: each line is an object with
//! `timestamp`, `level`, `target` and `fields` (`fields.message` plus the
//! record's own fields, e.g. `session`, `plugin`, `event` on plugin log and
//! output records). Text is coloured only when stderr is a terminal and
//! `NO_COLOR` is unset or empty. `RUST_LOG` filters both formats.

use std::ffi::OsStr;
use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// The shape of the log lines on stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (coloured on a terminal).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the global subscriber; `RUST_LOG` overrides `default_level`.
pub fn init(format: LogFormat, default_level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => {
            let no_color = std::env::var_os("NO_COLOR");
            builder
                .with_ansi(colour(std::io::stderr().is_terminal(), no_color.as_deref()))
                .init();
        }
        LogFormat::Json => builder.json().with_ansi(false).init(),
    }
}

/// Whether text logs are coloured: on a terminal, unless `NO_COLOR` has a
/// non-empty value (<https://no-color.org>).
fn colour(terminal: bool, no_color: Option<&OsStr>) -> bool {
    terminal && no_color.is_none_or(OsStr::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some(OsStr::new(""))));
        assert!(!colour(true, Some(OsStr::new("1"))));
        assert!(!colour(false, None));
        assert!(!colour(false, Some(OsStr::new(""))));
    }
}
