//! `stop`: every session disconnected within the host's shutdown grace.
//!
//! Sessions first drain what they queued, as `disconnect` does. A backlog
//! can be long (a slow plugin, a flood), so the drain is bounded by
//! `[host] shutdown_grace_ms`: when it is over, every session stops after
//! the event it is handling. Nothing committed is lost and nothing is done
//! twice — handled events are marked done in the journal, the rest stay
//! pending there and run first at the next start (with `journal = false`
//! they are lost, and the log says how many).

use std::time::Duration;

use tokio::task::JoinSet;

use super::Supervisor;

impl Supervisor {
    /// `stop`: disconnects every session, draining their queues for at most
    /// the config's `shutdown_grace_ms`, then closes the database.
    pub async fn stop(&self) {
        let grace = self.config().host.shutdown_grace_ms;
        self.inner.stopping.store(true, std::sync::atomic::Ordering::Release);
        let mut closing = JoinSet::new();
        for (name, slot) in self.slots() {
            closing.spawn(async move {
                // Closed, not `disconnect`ed: on a shared database the
                // session is to run on; its lease goes back below.
                match super::lock_live(&slot, &name, true).await {
                    Ok(mut live) => super::disconnect_locked(&name, &slot, &mut live).await,
                    Err(error) => tracing::debug!(session = %name, %error, "session forgotten before the stop"),
                }
            });
        }
        let drained = tokio::time::timeout(Duration::from_millis(grace), drain(&mut closing)).await;
        if drained.is_err() {
            tracing::warn!(
                grace_ms = grace,
                sessions = closing.len(),
                "shutdown grace over: sessions stop after their current event"
            );
            self.inner.halt.send_replace(true);
            drain(&mut closing).await;
        }
        if let Err(error) = self.inner.store.writer().barrier().await {
            tracing::error!(%error, "stopping with database writes lost");
        }
        self.stop_pruning().await;
        self.release_leases().await;
        self.report_unfinished().await;
        self.inner.store.close().await;
    }

    /// Logs, per session, the journaled events the next start replays.
    async fn report_unfinished(&self) {
        for (name, _) in self.slots() {
            match self.inner.store.journal_pending_count(&name).await {
                Ok(0) => {}
                Ok(left) => tracing::info!(session = %name, events = left, "left in the journal for the next start"),
                Err(error) => tracing::debug!(session = %name, %error, "could not count unfinished events"),
            }
        }
    }
}

async fn drain(closing: &mut JoinSet<()>) {
    while closing.join_next().await.is_some() {}
}
