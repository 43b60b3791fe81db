//! What the control API reads and does on a running host besides the
//! lifecycle: sends on a session's connection, the sim network's other
//! side, the live event stream and the metrics.
//!
//! None of these takes a session's lifecycle lock: they use the live
//! session's view (channel, queue probe) kept beside it, so a slow
//! `disconnect` never holds up a scrape or a send on another session.

use std::sync::Arc;

use tokio::sync::broadcast;

use super::{Supervisor, UnknownSession};
use crate::capability::messaging::channel_text_chars;
use crate::channel::sim::{SimError, SimOutbound};
use crate::channel::{Outbound, SendError};
use crate::config::ChannelKind;
use crate::observe::HostEvent;
use crate::plugin::PluginStatus;
use crate::session::{SessionStatus, State};

/// Why a send from the API was not made.
#[derive(Debug, thiserror::Error)]
pub enum SendTextError {
    #[error(transparent)]
    Unknown(#[from] UnknownSession),
    #[error("session {0:?} is not connected")]
    NotConnected(String),
    /// Longer than the channel carries in one message.
    #[error("a text of {chars} characters is over {channel}'s limit of {limit}")]
    TooLong {
        chars: usize,
        limit: usize,
        channel: &'static str,
    },
    #[error("the network refused the send: {0}")]
    Failed(String),
}

/// Why a sim action was refused.
#[derive(Debug, thiserror::Error)]
pub enum SimActionError {
    #[error(transparent)]
    Unknown(#[from] UnknownSession),
    #[error("session {0:?} is not on the sim network")]
    NotSim(String),
    #[error("session {0:?} is not connected")]
    NotConnected(String),
    #[error("{0}")]
    Failed(String),
}

impl Supervisor {
    /// Sends `text` to chat `to` on the session's connection, now, under a
    /// fresh message id (returned). Not through the outbox: the caller is
    /// there to see an error, so nothing is retried.
    pub async fn send_text(&self, name: &str, to: &str, text: &str) -> Result<String, SendTextError> {
        let slot = self.slot(name)?;
        let kind = slot.config.channel;
        if let Some(limit) = channel_text_chars(kind)
            && text.chars().count() > limit
        {
            return Err(SendTextError::TooLong {
                chars: text.chars().count(),
                limit,
                channel: kind.as_str(),
            });
        }
        let not_connected = || SendTextError::NotConnected(name.to_string());
        if slot.status.state() != State::Connected {
            return Err(not_connected());
        }
        let view = slot.view().ok_or_else(not_connected)?;
        let id = view.channel.message_id(&format!("api.{:016x}", rand::random::<u64>()));
        let action = Outbound::Text {
            chat: to.to_string(),
            text: text.to_string(),
        };
        match view.channel.send(&id, action).await {
            Ok(()) => {
                tracing::debug!(session = name, %id, "sent through the API");
                Ok(id)
            }
            Err(SendError::NotConnected) => Err(not_connected()),
            Err(error) => Err(SendTextError::Failed(error.to_string())),
        }
    }

    /// Delivers a text from sim user `from` to the session, as the sim
    /// network would; returns the message id once it is journaled.
    pub async fn sim_inbound(&self, name: &str, from: &str, text: &str) -> Result<String, SimActionError> {
        self.sim_session(name)?;
        self.sim()
            .inject_text(name, from, text)
            .await
            .map_err(|error| match error {
                SimError::NotConnected(_) | SimError::Closed(_) => SimActionError::NotConnected(name.to_string()),
                SimError::Refused(..) => SimActionError::Failed(error.to_string()),
            })
    }

    /// What the sim session sent (the newest 10,000 actions), oldest first;
    /// with `[sim] keep_sent`, across restarts.
    pub async fn sim_outbound(&self, name: &str) -> Result<Vec<SimOutbound>, SimActionError> {
        self.sim_session(name)?;
        self.sim()
            .sent_log(name)
            .await
            .map_err(|e| SimActionError::Failed(format!("{e:#}")))
    }

    fn sim_session(&self, name: &str) -> Result<(), SimActionError> {
        match self.slot(name)?.config.channel {
            ChannelKind::Sim => Ok(()),
            ChannelKind::Whatsapp => Err(SimActionError::NotSim(name.to_string())),
        }
    }

    /// One plugin's status.
    pub fn plugin(&self, name: &str) -> Option<PluginStatus> {
        self.read_plugins().get(name).map(|handle| handle.status())
    }

    /// Whether `name` is a session of the host.
    pub fn has_session(&self, name: &str) -> bool {
        self.slot(name).is_ok()
    }

    /// Every event published from now on.
    pub fn subscribe_events(&self) -> broadcast::Receiver<Arc<HostEvent>> {
        self.inner.observer.bus.subscribe()
    }

    /// Every session's current status, by name.
    pub fn statuses(&self) -> Vec<(String, SessionStatus)> {
        self.slots()
            .into_iter()
            .map(|(name, slot)| (name, slot.status.get()))
            .collect()
    }

    /// The metrics in text exposition format, the gauges read now.
    pub fn encode_metrics(&self) -> String {
        let slots = self.slots();
        let queues: Vec<(String, usize)> = slots
            .iter()
            .filter_map(|(name, slot)| Some((name.clone(), slot.view()?.depth.get())))
            .collect();
        let states: Vec<State> = slots.values().map(|slot| slot.status.state()).collect();
        self.inner.observer.metrics.encode(&queues, &states)
    }
}
