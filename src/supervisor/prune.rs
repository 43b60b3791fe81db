//! Pruning: finished journal rows and sent outbox rows are kept for
//! `[host] journal_keep` (deduplication, and the record `purr replay`
//! compares against), then deleted — once when the host starts and then
//! periodically while it runs, by a task that stops with the host.
//! Unfinished events and unsent sends are never pruned.

use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::Supervisor;
use crate::store::{Pruned, Store};

/// How often the running host prunes, at most.
const EVERY_AT_MOST: Duration = Duration::from_secs(60 * 60);
/// How often the running host prunes, at least.
const EVERY_AT_LEAST: Duration = Duration::from_secs(60);

/// The pruning task of a running host.
pub(super) struct Pruner {
    /// Sent (or dropped, with the supervisor) to stop the task.
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// The pause between two prunes for `keep`: an hour, or a 24th of `keep`
/// if that is less, but at least a minute. A row is so deleted at most
/// about `keep` + 1/24 of it after its time.
pub(super) fn period(keep: Duration) -> Duration {
    (keep / 24).clamp(EVERY_AT_LEAST, EVERY_AT_MOST)
}

/// Deletes what is older than `keep` now.
pub(super) async fn prune(store: &Store, keep: Duration) -> anyhow::Result<Pruned> {
    let keep_ms = i64::try_from(keep.as_millis()).unwrap_or(i64::MAX);
    let before_ms = (crate::util::now_ms() as i64).saturating_sub(keep_ms);
    store.journal_prune(before_ms).await
}

/// Prunes once and logs what it did; a failure is logged, not returned:
/// nothing depends on it, and the next prune tries again.
pub(super) async fn prune_logged(store: &Store, keep: Duration) {
    match prune(store, keep).await {
        Ok(pruned) if pruned == Pruned::default() => {}
        Ok(pruned) => tracing::debug!(
            journal = pruned.journal,
            sent = pruned.sent,
            keep = %humantime::format_duration(keep),
            "old finished journal rows and sent outbox rows pruned"
        ),
        Err(error) => tracing::warn!(error = %format!("{error:#}"), "pruning failed; tried again later"),
    }
}

impl Supervisor {
    /// Starts pruning every [`period`] of `keep` (the host pruned once at
    /// start already) until [`stop_pruning`](Self::stop_pruning), or until
    /// the supervisor is dropped.
    pub(super) fn start_pruning(&self, keep: Duration) {
        let store = self.inner.store.clone();
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period(keep));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await; // the first tick is now: pruned at start already
            loop {
                tokio::select! {
                    _ = ticks.tick() => prune_logged(&store, keep).await,
                    _ = &mut stopped => return,
                }
            }
        });
        let old = self.lock_pruner().replace(Pruner { stop, task });
        if let Some(old) = old {
            old.task.abort();
        }
    }

    /// Stops the pruning task, waiting for a prune in progress to end (so
    /// the database can be closed).
    pub(super) async fn stop_pruning(&self) {
        let pruner = self.lock_pruner().take();
        if let Some(Pruner { stop, task }) = pruner {
            let _ = stop.send(());
            let _ = task.await;
        }
    }

    fn lock_pruner(&self) -> std::sync::MutexGuard<'_, Option<Pruner>> {
        self.inner.pruner.lock().expect("pruner lock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_period_is_an_hour_or_a_24th_of_the_keep_but_at_least_a_minute() {
        let hours = |h: u64| Duration::from_secs(h * 3600);
        assert_eq!(period(hours(24 * 7)), hours(1));
        assert_eq!(period(hours(24)), hours(1));
        assert_eq!(period(hours(6)), Duration::from_secs(15 * 60));
        assert_eq!(period(Duration::from_secs(60)), Duration::from_secs(60));
    }
}
