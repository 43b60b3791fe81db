//! One session's place in the supervisor: its config and origin, its
//! status, and — while connected — its live session, behind the lifecycle
//! lock, with the parts others may read without that lock.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use tokio::sync::Mutex;

use super::Origin;
use crate::channel::Channel;
use crate::config::SessionConfig;
use crate::observe::SessionObserver;
use crate::plugin::InstanceGauge;
use crate::session::{LiveSession, QueueDepth, StatusCell};

/// One session's place in the supervisor.
pub(super) struct SessionSlot {
    pub(super) config: SessionConfig,
    pub(super) origin: Origin,
    pub(super) status: StatusCell,
    pub(super) gauge: InstanceGauge,
    pub(super) observer: SessionObserver,
    pub(super) live: Mutex<Option<LiveSession>>,
    /// What others may read of the live session without its lifecycle lock.
    pub(super) view: std::sync::Mutex<Option<LiveView>>,
    /// Set once a destroyed run-time session is forgotten: lifecycle calls
    /// that waited for it find it gone.
    pub(super) forgotten: AtomicBool,
}

/// The parts of a live session readable while a lifecycle call runs.
#[derive(Clone)]
pub(super) struct LiveView {
    pub(super) channel: Arc<dyn Channel>,
    pub(super) depth: QueueDepth,
}

impl SessionSlot {
    /// Installs `session` as the slot's live session.
    pub(super) fn attach(&self, live: &mut Option<LiveSession>, session: LiveSession) {
        *self.lock_view() = Some(LiveView {
            channel: session.channel().clone(),
            depth: session.queue_depth(),
        });
        *live = Some(session);
    }

    /// Takes the slot's live session out.
    pub(super) fn detach(&self, live: &mut Option<LiveSession>) -> Option<LiveSession> {
        *self.lock_view() = None;
        live.take()
    }

    pub(super) fn view(&self) -> Option<LiveView> {
        self.lock_view().clone()
    }

    fn lock_view(&self) -> std::sync::MutexGuard<'_, Option<LiveView>> {
        self.view.lock().expect("session view lock")
    }
}
