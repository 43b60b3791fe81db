//! `purr:bot/log`: plugin log records into the host's `tracing` output,
//! tagged with session, plugin and the event being handled.
//!
//! Two limits keep a plugin from filling the host's log, per plugin and
//! session (counted in `purr_quota_exceeded_total`; the plugin is not told,
//! the WIT's `log` returns nothing):
//! - a record longer than `max_log_line_bytes` is cut (at a character
//!   boundary) and ends with `… [cut: N more bytes]`;
//! - a [`LogBudget`] of `max_log_bytes_per_minute` bytes (a token bucket that
//!   refills continuously, shared by the plugin's instances in the session):
//!   a record that does not fit is dropped. The first drop logs one warning
//!   (`plugin log over max_log_bytes_per_minute: dropping records`), and the
//!   next record that fits again is preceded by one `N bytes (M records) of
//!   log dropped` warning. So a flood costs the log at most its allowance
//!   plus two lines per episode.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use wasmtime::component::{HasSelf, Linker};

use crate::config::PluginQuotas;
use crate::observe::Metrics;
use crate::plugin::PluginState;
use crate::plugin::bindings::purr::bot::log::{self as wit, Host, Level};

/// Where plugin log records go, for `RUST_LOG` filtering.
const TARGET: &str = "purr::plugin::log";

/// The log bytes one plugin may write in one session: per record, and per minute.
pub struct LogBudget {
    line_bytes: u64,
    per_minute: u64,
    state: Mutex<BudgetState>,
}

struct BudgetState {
    /// Bytes that may be written now.
    tokens: f64,
    refilled_at: Instant,
    /// Dropped since the last record that got through.
    dropped_bytes: u64,
    dropped_records: u64,
}

/// What [`LogBudget::admit`] decides about one record.
#[derive(Debug, PartialEq, Eq)]
pub enum Admit {
    /// Write it; first say that `bytes` in `records` were dropped before it
    /// (when `records > 0`).
    Write { bytes: u64, records: u64 },
    /// Drop it; `first` if it is the first of a run of drops.
    Drop { first: bool },
}

impl LogBudget {
    pub fn new(quotas: &PluginQuotas) -> Self {
        let per_minute = quotas.log_bytes_per_minute;
        LogBudget {
            line_bytes: quotas.log_line_bytes,
            per_minute,
            state: Mutex::new(BudgetState {
                tokens: per_minute as f64,
                refilled_at: Instant::now(),
                dropped_bytes: 0,
                dropped_records: 0,
            }),
        }
    }

    /// Whether this budget has the limits `quotas` set.
    pub fn fits(&self, quotas: &PluginQuotas) -> bool {
        self.line_bytes == quotas.log_line_bytes && self.per_minute == quotas.log_bytes_per_minute
    }

    /// The longest record, in bytes (`max_log_line_bytes`).
    pub fn line_bytes(&self) -> u64 {
        self.line_bytes
    }

    /// Whether a record of `bytes` from `plugin` in `session` (handling
    /// `event`, or `""`) may be written now; logs the drop warnings and
    /// counts the drops. For the `log` import and the plugin's stdout and
    /// stderr alike, which share the allowance.
    pub fn pass(&self, session: &str, plugin: &str, event: &str, bytes: u64) -> bool {
        match self.admit(bytes, Instant::now()) {
            Admit::Drop { first } => {
                Metrics::quota_exceeded(session, plugin, "max_log_bytes_per_minute");
                if first {
                    tracing::warn!(target: TARGET, session, plugin, event, per_minute = self.per_minute, "plugin log over max_log_bytes_per_minute: dropping records");
                }
                false
            }
            Admit::Write { bytes, records } => {
                if records > 0 {
                    tracing::warn!(target: TARGET, session, plugin, event, "{bytes} bytes ({records} records) of log dropped (max_log_bytes_per_minute)");
                }
                true
            }
        }
    }

    /// Takes `bytes` for one record at `now`, if the allowance has them.
    pub fn admit(&self, bytes: u64, now: Instant) -> Admit {
        let mut state = self.state.lock().expect("log budget lock");
        let elapsed = now.saturating_duration_since(state.refilled_at).as_secs_f64();
        let capacity = self.per_minute as f64;
        state.tokens = (state.tokens + elapsed * capacity / 60.0).min(capacity);
        state.refilled_at = now;
        if state.tokens >= bytes as f64 {
            state.tokens -= bytes as f64;
            let admit = Admit::Write {
                bytes: state.dropped_bytes,
                records: state.dropped_records,
            };
            state.dropped_bytes = 0;
            state.dropped_records = 0;
            admit
        } else {
            state.dropped_bytes += bytes;
            state.dropped_records += 1;
            Admit::Drop {
                first: state.dropped_records == 1,
            }
        }
    }
}

/// `message` cut to at most `limit` bytes (at a character boundary) with a
/// marker saying how much was cut; `None` if it fits.
pub fn cut(message: &str, limit: usize) -> Option<String> {
    if message.len() <= limit {
        return None;
    }
    let mut end = limit;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    Some(format!(
        "{}… [cut: {} more bytes]",
        &message[..end],
        message.len() - end
    ))
}

/// The log capability of one instance.
pub struct Log {
    session: Arc<str>,
    plugin: Arc<str>,
    /// The event being handled, set by the instance before each call.
    pub(crate) event_id: String,
    budget: Arc<LogBudget>,
}

impl Log {
    pub fn new(session: Arc<str>, plugin: Arc<str>, budget: Arc<LogBudget>) -> Self {
        Log {
            session,
            plugin,
            event_id: String::new(),
            budget,
        }
    }

    /// The plugin's log allowance in this session, which its stdout and
    /// stderr share.
    pub fn budget(&self) -> Arc<LogBudget> {
        self.budget.clone()
    }
}

impl Host for Log {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let (session, plugin, event) = (&*self.session, &*self.plugin, self.event_id.as_str());
        let cut = cut(&message, usize::try_from(self.budget.line_bytes).unwrap_or(usize::MAX));
        if cut.is_some() {
            Metrics::quota_exceeded(session, plugin, "max_log_line_bytes");
        }
        let message = cut.as_deref().unwrap_or(&message);
        if !self.budget.pass(session, plugin, event, message.len() as u64) {
            return Ok(());
        }
        match level {
            Level::Trace => tracing::trace!(target: TARGET, session, plugin, event, "{message}"),
            Level::Debug => tracing::debug!(target: TARGET, session, plugin, event, "{message}"),
            Level::Info => tracing::info!(target: TARGET, session, plugin, event, "{message}"),
            Level::Warn => tracing::warn!(target: TARGET, session, plugin, event, "{message}"),
            Level::Error => tracing::error!(target: TARGET, session, plugin, event, "{message}"),
        }
        Ok(())
    }
}

pub fn add_to_linker(linker: &mut Linker<PluginState>) -> anyhow::Result<()> {
    wit::add_to_linker::<PluginState, HasSelf<Log>>(linker, |state| &mut state.log)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_long_record_is_cut_at_a_character_boundary_with_a_marker() {
        assert_eq!(cut("short", 10), None);
        assert_eq!(cut("ééé", 3).as_deref(), Some("é… [cut: 4 more bytes]"));
        let long = "x".repeat(100_000);
        let kept = cut(&long, 1000).unwrap();
        assert!(kept.len() < 1100 && kept.ends_with("[cut: 99000 more bytes]"), "{kept}");
    }

    #[test]
    fn a_flood_is_dropped_past_the_allowance_and_the_drop_reported_once() {
        let budget = LogBudget::new(&PluginQuotas {
            log_bytes_per_minute: 6000,
            ..PluginQuotas::default()
        });
        let start = Instant::now();
        for _ in 0..6 {
            assert_eq!(budget.admit(1000, start), Admit::Write { bytes: 0, records: 0 });
        }
        assert_eq!(budget.admit(1000, start), Admit::Drop { first: true });
        assert_eq!(budget.admit(500, start), Admit::Drop { first: false });
        // 6000 per minute: 1000 bytes are back after 10 s.
        let later = start + Duration::from_secs(10);
        assert_eq!(
            budget.admit(1000, later),
            Admit::Write {
                bytes: 1500,
                records: 2
            }
        );
        assert_eq!(budget.admit(1, later), Admit::Drop { first: true });
        // The allowance never holds more than a minute's worth.
        let much_later = later + Duration::from_secs(3600);
        assert_eq!(budget.admit(6000, much_later), Admit::Write { bytes: 1, records: 1 });
        assert_eq!(budget.admit(1, much_later), Admit::Drop { first: true });
    }
}
