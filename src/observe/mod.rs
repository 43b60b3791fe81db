//! What the host tells the outside about itself while it runs: the live
//! event bus ([`EventBus`], served as `GET /v1/events`) and the metrics
//! ([`Metrics`], served as `GET /metrics`).
//!
//! The hot path (session tasks, the dispatcher, the outbox sender) reaches
//! both through small per-session and per-plugin handles made once, when a
//! session or plugin is set up: [`SessionObserver`], [`PluginObserver`] and
//! [`StatusFeed`]. Their methods cost an atomic add (metrics) and a check
//! whether anybody listens (events); an event is built only for listeners,
//! and turned into JSON only by the API, per listener.

mod bus;
mod channel;
mod metrics;

use std::sync::Arc;

pub use bus::{CAPACITY, EventBus, HostEvent, MessageEvent, SentEvent};
pub use channel::ObservedChannel;
pub use metrics::{HttpMetrics, Metrics, PluginMetrics, SessionMetrics, ShadowMetrics};

use crate::channel::{ChannelEvent, Content, Outbound};
use crate::plugin::PluginStatus;
use crate::session::SessionStatus;

/// The host's event bus and metrics, shared by everything that reports.
#[derive(Clone)]
pub struct Observer {
    pub bus: Arc<EventBus>,
    pub metrics: Arc<Metrics>,
}

impl Default for Observer {
    fn default() -> Self {
        Observer {
            bus: Arc::new(EventBus::new()),
            metrics: Arc::new(Metrics::new()),
        }
    }
}

impl Observer {
    /// The handles of session `name`.
    pub fn session(&self, name: &str) -> SessionObserver {
        SessionObserver {
            session: Arc::from(name),
            bus: self.bus.clone(),
            metrics: self.metrics.session(name),
        }
    }

    /// The handles of plugin `name`.
    pub fn plugin(&self, name: &str) -> PluginObserver {
        PluginObserver {
            bus: self.bus.clone(),
            metrics: self.metrics.plugin(name),
        }
    }
}

/// One session's reporting handles.
#[derive(Clone)]
pub struct SessionObserver {
    session: Arc<str>,
    bus: Arc<EventBus>,
    metrics: SessionMetrics,
}

impl SessionObserver {
    /// Publishes every change of the session's status (see [`crate::session::StatusCell`]).
    pub fn status_feed(&self) -> StatusFeed {
        StatusFeed {
            session: self.session.clone(),
            bus: self.bus.clone(),
        }
    }

    /// An event of the network reached the session's plugins.
    pub fn event_in(&self, event_id: &str, event: &ChannelEvent) {
        self.metrics.events_in.inc();
        if let ChannelEvent::Message(message) = event {
            self.bus.publish(|| {
                HostEvent::Message(MessageEvent {
                    session: self.session.clone(),
                    id: message.id.clone(),
                    event_id: event_id.to_string(),
                    chat: message.chat.clone(),
                    sender: message.sender.clone(),
                    text: match &message.content {
                        Content::Text(text) => Some(text.clone()),
                        _ => None,
                    },
                })
            });
        }
    }

    /// The network accepted outbound action `id`.
    pub fn sent(&self, id: &str, action: &Outbound) {
        self.metrics.events_out.inc();
        self.bus.publish(|| {
            HostEvent::Sent(SentEvent {
                session: self.session.clone(),
                id: id.to_string(),
                action: action.clone(),
            })
        });
    }
}

/// Publishes a session's status changes on the bus.
#[derive(Clone)]
pub struct StatusFeed {
    session: Arc<str>,
    bus: Arc<EventBus>,
}

impl StatusFeed {
    /// Whether a change is worth comparing and publishing.
    pub fn listening(&self) -> bool {
        self.bus.listening()
    }

    pub fn publish(&self, status: &SessionStatus) {
        self.bus.publish(|| HostEvent::Status {
            session: self.session.clone(),
            status: status.clone(),
        });
    }
}

/// One plugin's reporting handles.
#[derive(Clone)]
pub struct PluginObserver {
    bus: Arc<EventBus>,
    pub metrics: PluginMetrics,
}

impl PluginObserver {
    /// The plugin's status changed (reload, failed reload, trap).
    pub fn changed(&self, status: impl FnOnce() -> PluginStatus) {
        self.bus.publish(|| HostEvent::Plugin(Box::new(status())));
    }
}
