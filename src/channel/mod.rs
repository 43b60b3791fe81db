//! Channels: the network side of a session.
//!
//! A channel turns one chat account on one network into a stream of
//! [`ChannelEvent`]s (delivered into the session's [`EventSink`]) and
//! carries out [`Outbound`] actions. It knows nothing of plugins or WIT:
//! the dispatcher converts. Channels are to purr what Spin's triggers are
//! to Spin; adding one means a module here and a line in [`open`].
//!
//! - [`sim`]: the in-process simulated network (tests, demos, `purr chat`).
//! - [`whatsapp`]: WhatsApp through whatsapp-rust, its auth in purr's database.
//! - [`detached`]: connects nowhere; stands in for a session's channel in a replay.

pub mod detached;
mod model;
pub mod sim;
mod sink;
pub mod whatsapp;

use std::sync::Arc;

use async_trait::async_trait;

pub use model::*;
pub use sink::{Commit, Deliver, EmitError, EventSink, SessionClosed, durable};

use crate::config::ChannelKind;
use crate::store::Store;

/// Why an outbound action failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The channel cannot do this at all.
    #[error("unsupported by channel {channel}: {action}")]
    Unsupported {
        channel: &'static str,
        action: &'static str,
    },
    /// The session is not online.
    #[error("session is not connected")]
    NotConnected,
    /// The network refused or failed.
    #[error("{0}")]
    Failed(String),
}

/// One chat account's connection to its network.
///
/// Lifecycle: [`connect`](Channel::connect) starts linking or reconnecting
/// and returns at once (events follow through the sink);
/// [`disconnect`](Channel::disconnect) closes it keeping the account's
/// auth; [`logout`](Channel::logout) unlinks the account for real and
/// deletes its auth.
#[async_trait]
pub trait Channel: Send + Sync {
    /// Which network this is.
    fn kind(&self) -> ChannelKind;
    /// Connects: a stored account reconnects, a new one emits `qr`.
    async fn connect(&self) -> anyhow::Result<()>;
    /// Closes the connection; auth data is kept.
    async fn disconnect(&self) -> anyhow::Result<()>;
    /// Unlinks the account on the network and deletes its auth data.
    async fn logout(&self) -> anyhow::Result<()>;
    /// The message id a send made under idempotency key `key` gets on this
    /// network. The same key always gives the same id, so a send retried
    /// after a crash is the same message to the network, which takes it once.
    fn message_id(&self, key: &str) -> String;
    /// Performs an outbound action as message `id` (sends) or with `id` as
    /// its idempotency token (other actions).
    async fn send(&self, id: &str, action: Outbound) -> Result<(), SendError>;
    /// Fetches the bytes behind a media handle.
    async fn download_media(&self, handle: &str) -> Result<Vec<u8>, SendError>;
}

/// What channels need from the host.
#[derive(Clone)]
pub struct ChannelDeps {
    pub store: Store,
    pub sim: sim::SimNetwork,
    /// How WhatsApp sessions reach WhatsApp.
    pub whatsapp: whatsapp::Connector,
}

/// Which channel a session uses, and its channel settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSpec {
    pub kind: ChannelKind,
    /// Phone number to link by pair code (WhatsApp).
    pub pair_phone: Option<String>,
}

/// Creates the channel `spec` describes for the session fed by `sink`.
pub fn open(spec: &ChannelSpec, sink: EventSink, deps: &ChannelDeps) -> anyhow::Result<Arc<dyn Channel>> {
    match spec.kind {
        ChannelKind::Sim => Ok(Arc::new(deps.sim.channel(sink))),
        ChannelKind::Whatsapp => {
            let store = whatsapp::WhatsappStore::new(&deps.store, sink.session());
            let channel =
                whatsapp::WhatsappChannel::new(sink, store, deps.whatsapp.clone(), spec.pair_phone.as_deref());
            Ok(Arc::new(channel))
        }
    }
}
