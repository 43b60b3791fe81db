//! What the host says about its own health: whether it can take work
//! (readiness) and whether it must be restarted (a stopped database
//! writer).
//!
//! A failed database write (disk full, the file read-only or damaged)
//! stops the writer for good — a batch that was not written broke the
//! order later writes rely on — so it is shown everywhere an operator
//! looks: every session's status (`failed`, with the reason), `/healthz`
//! and `/readyz` (503), the logs and `purr_store_write_failures_total`.

use serde::Serialize;

use super::Supervisor;
use crate::session::State;

/// Whether the host can take work now, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    pub ready: bool,
    /// What is not ready yet (empty when ready).
    pub waiting_for: Vec<String>,
}

impl Supervisor {
    /// Marks every session failed, and counts it, once the database writer
    /// stops. Runs for the life of the host.
    pub(super) fn watch_store(&self) {
        let supervisor = self.clone();
        tokio::spawn(async move {
            let reason = supervisor.inner.store.writer().failed().await;
            supervisor.inner.observer.metrics.store_write_failures.inc();
            for (name, slot) in supervisor.slots() {
                tracing::error!(session = %name, "{reason}");
                slot.status.fail(reason.clone());
            }
        });
    }

    /// Why the host must be restarted, if it must.
    pub fn restart_needed(&self) -> Option<String> {
        self.inner.store.writer().failure()
    }

    /// Ready once the database can be written and every autostart session
    /// has settled: connected, showing its QR, or failed — not `stopped`
    /// (autostart has not reached it) or `starting`.
    pub fn readiness(&self) -> Readiness {
        let mut waiting_for: Vec<String> = self.restart_needed().into_iter().collect();
        let leases = self.store().leases();
        if leases.enabled() && !self.inner.leases_taken.load(std::sync::atomic::Ordering::Acquire) {
            waiting_for.push("this host's first round of session leases".to_string());
        }
        for (name, slot) in self.slots() {
            let state = slot.status.state();
            // On a shared database, only the sessions this host runs count.
            let ours = !leases.enabled() || leases.fence(&name).is_some();
            if ours && slot.config.autostart && matches!(state, State::Stopped | State::Starting) {
                waiting_for.push(format!("session {name} is {state}"));
            }
        }
        Readiness {
            ready: waiting_for.is_empty(),
            waiting_for,
        }
    }
}
