//! The simulated network: an in-process stand-in for WhatsApp.
//!
//! It behaves like the real network where the lifecycle is concerned — a
//! never-linked session shows a (fake) QR code and links itself after
//! `[sim] pair_delay_ms`, the link is stored in the database so a restart
//! reconnects with no QR, and `destroy` deletes it — and it lets tests,
//! demos and `purr chat` play the other side: [`SimNetwork::inject_text`]
//! delivers a message from a simulated user, and every outbound action is
//! recorded ([`SimNetwork::outbound`]) and streamed to subscribers
//! ([`SimNetwork::subscribe`]).
//!
//! Addresses on the sim network are `<name>@sim`; a linked session's own
//! address is `<session>@sim`.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Channel, ChannelEvent, Content, InboundMessage, Outbound, SendError};
use crate::config::{ChannelKind, SimConfig};
use crate::session::{EventSink, SessionClosed};
use crate::store::Store;
use crate::util::now_ms;

/// How many outbound actions the sim keeps per session (oldest dropped first).
const OUTBOUND_LOG_CAPACITY: usize = 10_000;

/// How long a sim QR code is announced to stay valid.
const QR_VALIDITY_MS: u64 = 60_000;

/// One outbound action a session performed on the sim network.
#[derive(Debug, Clone, PartialEq)]
pub struct SimOutbound {
    pub session: String,
    /// The id the network gave it (sends) or a sequence id (other actions).
    pub id: String,
    pub action: Outbound,
}

/// Why the sim refused to deliver a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    #[error("session {0} is not connected to the sim network")]
    NotConnected(String),
    #[error("session {0} stopped before the message was queued")]
    Closed(String),
}

/// The simulated network shared by every sim session of a host.
#[derive(Clone)]
pub struct SimNetwork {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    pair_delay: Duration,
    /// Sessions online right now, with where their events go.
    online: Mutex<HashMap<String, EventSink>>,
    log: Mutex<HashMap<String, VecDeque<SimOutbound>>>,
    subscribers: Mutex<Vec<mpsc::UnboundedSender<SimOutbound>>>,
    next_id: AtomicU64,
}

impl SimNetwork {
    pub fn new(store: Store, config: &SimConfig) -> Self {
        SimNetwork {
            inner: Arc::new(Inner {
                store,
                pair_delay: Duration::from_millis(config.pair_delay_ms),
                online: Mutex::default(),
                log: Mutex::default(),
                subscribers: Mutex::default(),
                next_id: AtomicU64::new(1),
            }),
        }
    }

    /// The sim address of a user name (`alice` → `alice@sim`); full addresses pass unchanged.
    pub fn address(name: &str) -> String {
        if name.contains('@') {
            name.to_string()
        } else {
            format!("{name}@sim")
        }
    }

    /// The channel of one session on this network.
    pub fn channel(&self, sink: EventSink) -> SimChannel {
        SimChannel {
            network: self.clone(),
            sink,
            pairing: Mutex::new(None),
        }
    }

    /// Delivers a direct text message from user `from` to `session`, waiting
    /// for room in the session's queue. Returns the message id.
    pub async fn inject_text(&self, session: &str, from: &str, text: &str) -> Result<String, SimError> {
        let sender = Self::address(from);
        let id = format!("sim-in-{}", self.next_id());
        let message = InboundMessage {
            id: id.clone(),
            chat: sender.clone(),
            sender,
            from_me: false,
            timestamp_ms: now_ms(),
            push_name: Some(from.to_string()),
            is_group: false,
            quoted_id: None,
            content: Content::Text(text.to_string()),
        };
        self.inject(session, ChannelEvent::Message(message)).await?;
        Ok(id)
    }

    /// Delivers any event to an online session, as the network would.
    pub async fn inject(&self, session: &str, event: ChannelEvent) -> Result<(), SimError> {
        let sink = self
            .online_sink(session)
            .ok_or_else(|| SimError::NotConnected(session.to_string()))?;
        sink.emit(event)
            .await
            .map_err(|SessionClosed| SimError::Closed(session.to_string()))
    }

    /// Every outbound action `session` performed (the newest 10,000).
    pub fn outbound(&self, session: &str) -> Vec<SimOutbound> {
        let log = self.inner.log.lock().expect("sim log lock");
        log.get(session)
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// A stream of every outbound action of every session from now on.
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<SimOutbound> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.inner.subscribers.lock().expect("sim subscribers lock").push(tx);
        rx
    }

    /// Whether `session` is online.
    pub fn is_online(&self, session: &str) -> bool {
        self.online_sink(session).is_some()
    }

    fn online_sink(&self, session: &str) -> Option<EventSink> {
        self.inner.online.lock().expect("sim online lock").get(session).cloned()
    }

    fn next_id(&self) -> u64 {
        self.inner.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn go_online(&self, sink: &EventSink) {
        let mut online = self.inner.online.lock().expect("sim online lock");
        online.insert(sink.session().to_string(), sink.clone());
    }

    fn go_offline(&self, session: &str) {
        self.inner.online.lock().expect("sim online lock").remove(session);
    }

    fn record(&self, session: &str, action: Outbound) -> String {
        let id = format!("sim-out-{}", self.next_id());
        let entry = SimOutbound {
            session: session.to_string(),
            id: id.clone(),
            action,
        };
        {
            let mut log = self.inner.log.lock().expect("sim log lock");
            let session_log = log.entry(session.to_string()).or_default();
            if session_log.len() == OUTBOUND_LOG_CAPACITY {
                session_log.pop_front();
            }
            session_log.push_back(entry.clone());
        }
        let mut subscribers = self.inner.subscribers.lock().expect("sim subscribers lock");
        subscribers.retain(|s| s.send(entry.clone()).is_ok());
        id
    }
}

/// One session's connection to the sim network.
pub struct SimChannel {
    network: SimNetwork,
    sink: EventSink,
    /// The pending self-linking after a QR was shown.
    pairing: Mutex<Option<JoinHandle<()>>>,
}

impl SimChannel {
    fn session(&self) -> &str {
        self.sink.session()
    }

    fn cancel_pairing(&self) {
        if let Some(task) = self.pairing.lock().expect("sim pairing lock").take() {
            task.abort();
        }
    }

    /// Shows a QR, then links the account after the configured delay.
    async fn link_new_account(&self) -> anyhow::Result<()> {
        let code = format!("sim-qr:{}:{:016x}", self.session(), rand::random::<u64>());
        self.sink
            .emit(ChannelEvent::Qr {
                code,
                expires_in_ms: QR_VALIDITY_MS,
            })
            .await?;
        let network = self.network.clone();
        let sink = self.sink.clone();
        let task = tokio::spawn(async move {
            tokio::time::sleep(network.inner.pair_delay).await;
            let jid = SimNetwork::address(sink.session());
            if let Err(error) = network.inner.store.sim_pair(sink.session(), &jid).await {
                tracing::error!(session = sink.session(), error = %format!("{error:#}"), "sim pairing could not be stored");
                return;
            }
            tracing::info!(session = sink.session(), %jid, "sim account linked");
            network.go_online(&sink);
            // The session may have stopped meanwhile; nothing is left to tell.
            let _ = sink.emit(ChannelEvent::Connected { jid }).await;
        });
        *self.pairing.lock().expect("sim pairing lock") = Some(task);
        Ok(())
    }
}

#[async_trait]
impl Channel for SimChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Sim
    }

    async fn connect(&self) -> anyhow::Result<()> {
        match self.network.inner.store.sim_pairing(self.session()).await? {
            Some(jid) => {
                self.network.go_online(&self.sink);
                self.sink.emit(ChannelEvent::Connected { jid }).await?;
                Ok(())
            }
            None => self.link_new_account().await,
        }
    }

    async fn disconnect(&self) -> anyhow::Result<()> {
        self.cancel_pairing();
        self.network.go_offline(self.session());
        Ok(())
    }

    async fn logout(&self) -> anyhow::Result<()> {
        self.disconnect().await?;
        self.network.inner.store.sim_unpair(self.session()).await?;
        // Plugins hear about it if the session is still running.
        let _ = self
            .sink
            .emit(ChannelEvent::LoggedOut {
                reason: "logged out".into(),
            })
            .await;
        Ok(())
    }

    async fn send(&self, action: Outbound) -> Result<Option<String>, SendError> {
        if !self.network.is_online(self.session()) {
            return Err(SendError::NotConnected);
        }
        Ok(Some(self.network.record(self.session(), action)))
    }

    async fn download_media(&self, _handle: &str) -> Result<Vec<u8>, SendError> {
        Err(SendError::Unsupported {
            channel: "sim",
            action: "download-media",
        })
    }
}

impl Drop for SimChannel {
    fn drop(&mut self) {
        self.cancel_pairing();
    }
}
