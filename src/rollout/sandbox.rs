//! A session's scope for a sandboxed run (`purr replay`, a shadow).
//!
//! Plugins run against the same capabilities as live, but nothing they do
//! leaves the sandbox: their sends are collected and returned, never put
//! in the outbox; their kv reads see the session's live data and their
//! writes stay in the sandbox's own view (copy on write: later events of
//! the same sandbox see them, the database never does); their timers are
//! a copy of the session's, kept in memory, never firing; their HTTP is
//! GET and HEAD only; and the send allowance is their own (unlimited: a
//! replay runs a day of traffic in seconds).

use std::sync::Arc;

use crate::capability::kv::SessionKv;
use crate::capability::messaging::{EventSends, SendBudget};
use crate::capability::timers::SessionTimers;
use crate::channel::{Channel, Outbound};
use crate::session::SessionScope;
use crate::store::Store;

/// One session's sandbox.
pub struct Sandbox {
    scope: SessionScope,
}

impl Sandbox {
    /// A sandbox of `session`: kv reads from `store` (never written), the
    /// session's pending timers copied from it, message ids and channel
    /// kind from `channel` (never sent on).
    pub async fn new(session: Arc<str>, store: Store, channel: Arc<dyn Channel>) -> anyhow::Result<Self> {
        let timers = SessionTimers::sandboxed(&store, session.clone()).await?;
        Ok(Sandbox {
            scope: SessionScope {
                session,
                store,
                channel,
                timers,
                send_budget: Arc::new(SendBudget::new(u32::MAX)),
                sends: EventSends::default(),
                kv: SessionKv::default(),
                sandboxed: true,
            },
        })
    }

    /// The scope plugins of this sandbox are made with.
    pub fn scope(&self) -> &SessionScope {
        &self.scope
    }

    /// Starts an event (or a new attempt of it): forgets what was not finished.
    pub fn begin(&self, event_id: &str) {
        self.scope.sends.begin(event_id);
        self.scope.kv.begin();
    }

    /// Ends an event: returns its sends, and (if `handled`) keeps its kv
    /// writes for the sandbox's later events (a failed event's are dropped,
    /// as live).
    pub fn finish(&self, handled: bool) -> Vec<Outbound> {
        let sends = self.scope.sends.take().into_iter().map(|(_, action)| action).collect();
        if handled {
            self.scope.kv.take();
        } else {
            self.scope.kv.begin();
        }
        sends
    }
}
