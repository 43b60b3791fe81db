//! The host event bus: a `tokio::sync::broadcast` channel of what happens
//! to sessions and plugins, for live viewers (`GET /v1/events`).
//!
//! Publishing is cheap when nobody listens: the event is built only if a
//! receiver exists. A receiver that falls more than [`CAPACITY`] events
//! behind loses the oldest and is told how many (broadcast's `Lagged`).

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::channel::Outbound;
use crate::plugin::PluginStatus;
use crate::session::SessionStatus;

/// Events a listener may fall behind by before it loses some.
pub const CAPACITY: usize = 1024;

/// One thing that happened on the host.
#[derive(Debug, Clone)]
pub enum HostEvent {
    /// A session's status changed.
    Status { session: Arc<str>, status: SessionStatus },
    /// An inbound message reached a session's plugins.
    Message(MessageEvent),
    /// The network accepted a session's outbound action.
    Sent(SentEvent),
    /// A plugin was reloaded, failed to reload, or trapped.
    Plugin(Box<PluginStatus>),
}

impl HostEvent {
    /// The session the event belongs to (none for plugin events).
    pub fn session(&self) -> Option<&str> {
        match self {
            HostEvent::Status { session, .. } => Some(session),
            HostEvent::Message(message) => Some(&message.session),
            HostEvent::Sent(sent) => Some(&sent.session),
            HostEvent::Plugin(_) => None,
        }
    }
}

/// An inbound message, as the plugins get it.
#[derive(Debug, Clone)]
pub struct MessageEvent {
    pub session: Arc<str>,
    /// The network's message id.
    pub id: String,
    /// The session's event id (`j<seq>` when journaled).
    pub event_id: String,
    pub chat: String,
    pub sender: String,
    /// The text, for text messages.
    pub text: Option<String>,
}

/// An outbound action the network accepted.
#[derive(Debug, Clone)]
pub struct SentEvent {
    pub session: Arc<str>,
    /// The message id (sends) or idempotency id (other actions).
    pub id: String,
    pub action: Outbound,
}

/// The broadcast channel of [`HostEvent`]s.
pub struct EventBus {
    sender: broadcast::Sender<Arc<HostEvent>>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    pub fn new() -> Self {
        EventBus {
            sender: broadcast::Sender::new(CAPACITY),
        }
    }

    /// Whether anybody listens right now.
    pub fn listening(&self) -> bool {
        self.sender.receiver_count() > 0
    }

    /// Publishes the event `make` builds, if anybody listens.
    pub fn publish(&self, make: impl FnOnce() -> HostEvent) {
        if self.listening() {
            // Nobody may be left by now; then the event goes nowhere.
            let _ = self.sender.send(Arc::new(make()));
        }
    }

    /// Every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<HostEvent>> {
        self.sender.subscribe()
    }
}
