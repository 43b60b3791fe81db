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
//! Like WhatsApp's servers, the sim takes a message id once: an action
//! repeated with an id it already has (a send retried after a crash) is
//! not recorded again. And like them it can hold messages for an account
//! until the account has stored them: [`SimNetwork::queue_texts`] (used by
//! `purr sim send`, possibly from another process) puts a message in the
//! database's `sim_inbox`; one poller per network reads it for every
//! online session (one query however many sessions there are) from a
//! cursor, in queue order, without pausing while there is more, and a
//! message is removed only once the session's journal has it (a batch at
//! a time), so a host killed in between gets it again. Messages of
//! sessions that are offline are passed over; the cursor goes back to the
//! start when a session comes online or a delivery was refused. With `[sim] keep_sent` the sent log is kept in
//! the database too (`purr sim log`).
//!
//! Addresses on the sim network are `<name>@sim`; a linked session's own
//! address is `<session>@sim`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Channel, ChannelEvent, Content, InboundMessage, Outbound, SendError};
use super::{Commit, EmitError, EventSink, SessionClosed, durable};
use crate::config::{ChannelKind, SimConfig};
use crate::store::{SimInboxRow, SimSent, Store};
use crate::util::now_ms;

/// How many outbound actions the sim keeps per session (oldest dropped first).
const OUTBOUND_LOG_CAPACITY: usize = 10_000;

/// How long a sim QR code is announced to stay valid.
const QR_VALIDITY_MS: u64 = 60_000;

/// How often the network looks for new messages in the database's sim
/// inbox once it has read everything there.
const INBOX_POLL: Duration = Duration::from_millis(50);
/// Inbox rows read per poll, at most.
const INBOX_BATCH: i64 = 5_000;

/// One outbound action a session performed on the sim network.
#[derive(Debug, Clone, PartialEq)]
pub struct SimOutbound {
    pub session: String,
    /// The message id (sends) or idempotency id (other actions).
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
    #[error("session {0} could not take the message: {1}")]
    Refused(String, String),
}

impl SimError {
    /// Why `session` did not take a message, as the sim says it.
    fn emitting(session: &str, error: EmitError) -> Self {
        match error {
            EmitError::Closed(_) => SimError::Closed(session.to_string()),
            EmitError::Journal(reason) => SimError::Refused(session.to_string(), reason),
        }
    }
}

/// The simulated network shared by every sim session of a host.
#[derive(Clone)]
pub struct SimNetwork {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    pair_delay: Duration,
    keep_sent: bool,
    /// Sessions online right now, with where their events go.
    online: Mutex<HashMap<String, EventSink>>,
    /// Inbox messages (by `seq`) handed to a session and not yet acknowledged.
    inbox_in_flight: Mutex<HashSet<i64>>,
    /// Whether the inbox poller runs (started with the first online session).
    polling: AtomicBool,
    /// Set when messages the inbox cursor passed may now be deliverable (a
    /// session came online, a delivery was refused): read from the start.
    inbox_rescan: AtomicBool,
    log: Mutex<HashMap<String, SessionLog>>,
    subscribers: Mutex<Vec<mpsc::UnboundedSender<SimOutbound>>>,
}

/// One session's recent outbound actions, and their ids (to take each once).
#[derive(Default)]
struct SessionLog {
    entries: VecDeque<SimOutbound>,
    ids: HashSet<String>,
}

impl SimNetwork {
    pub fn new(store: Store, config: &SimConfig) -> Self {
        SimNetwork {
            inner: Arc::new(Inner {
                store,
                pair_delay: Duration::from_millis(config.pair_delay_ms),
                keep_sent: config.keep_sent,
                online: Mutex::default(),
                inbox_in_flight: Mutex::default(),
                polling: Default::default(),
                inbox_rescan: Default::default(),
                log: Mutex::default(),
                subscribers: Mutex::default(),
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
        let id = inbound_id();
        self.inject(session, text_message(&id, from, text)).await?;
        Ok(id)
    }

    /// Like [`inject_text`](Self::inject_text), without waiting for the
    /// session's journal: returns when the message is queued, with the
    /// receipt that says when it is durable.
    pub async fn inject_text_pipelined(&self, session: &str, from: &str, text: &str) -> Result<Commit, SimError> {
        let sink = self
            .online_sink(session)
            .ok_or_else(|| SimError::NotConnected(session.to_string()))?;
        let id = inbound_id();
        sink.emit_pipelined(text_message(&id, from, text))
            .await
            .map_err(|SessionClosed| SimError::Closed(session.to_string()))
    }

    /// Queues texts from `from` for `session` in the database (the sim
    /// server's inbox), in order, in one transaction: the session gets them
    /// when it is online, even in another process, and again after a crash
    /// until they were journaled.
    pub async fn queue_texts(store: &Store, session: &str, from: &str, texts: Vec<String>) -> anyhow::Result<()> {
        let messages: Vec<(String, String)> = texts.into_iter().map(|text| (inbound_id(), text)).collect();
        store.sim_inbox_push(session, &Self::address(from), &messages).await
    }

    /// Delivers any event to an online session, as the network would.
    pub async fn inject(&self, session: &str, event: ChannelEvent) -> Result<(), SimError> {
        let sink = self
            .online_sink(session)
            .ok_or_else(|| SimError::NotConnected(session.to_string()))?;
        sink.emit(event)
            .await
            .map_err(|error| SimError::emitting(session, error))
    }

    /// Waits until a message queued by
    /// [`inject_text_pipelined`](Self::inject_text_pipelined) for `session`
    /// is journaled (or found a duplicate).
    pub async fn journaled(session: &str, commit: Commit) -> Result<(), SimError> {
        durable(commit)
            .await
            .map_err(|error| SimError::emitting(session, error))
    }

    /// The newest 10,000 outbound actions of `session`, oldest first: with
    /// `[sim] keep_sent` from the persisted log (so across restarts, as
    /// `purr sim log` reads it), else those since this host started.
    pub async fn sent_log(&self, session: &str) -> anyhow::Result<Vec<SimOutbound>> {
        if !self.inner.keep_sent {
            return Ok(self.outbound(session));
        }
        let rows = self
            .inner
            .store
            .sim_sent_recent(session, OUTBOUND_LOG_CAPACITY as i64)
            .await?;
        rows.into_iter()
            .map(|(id, action)| {
                let action =
                    serde_json::from_str(&action).map_err(|e| anyhow::anyhow!("sim sent log entry {id}: {e}"))?;
                Ok(SimOutbound {
                    session: session.to_string(),
                    id,
                    action,
                })
            })
            .collect()
    }

    /// Every outbound action `session` performed since this host started
    /// (the newest 10,000).
    pub fn outbound(&self, session: &str) -> Vec<SimOutbound> {
        let log = self.inner.log.lock().expect("sim log lock");
        log.get(session)
            .map(|l| l.entries.iter().cloned().collect())
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
        self.inner.online.lock().expect("sim online lock").contains_key(session)
    }

    fn online_sink(&self, session: &str) -> Option<EventSink> {
        self.inner.online.lock().expect("sim online lock").get(session).cloned()
    }

    /// Marks the session online; the inbox poller delivers its database
    /// inbox from now on.
    fn go_online(&self, sink: &EventSink) {
        let mut online = self.inner.online.lock().expect("sim online lock");
        online.insert(sink.session().to_string(), sink.clone());
        drop(online);
        self.inner.inbox_rescan.store(true, Ordering::SeqCst);
        if !self.inner.polling.swap(true, Ordering::SeqCst) {
            tokio::spawn(poll_inbox(Arc::downgrade(&self.inner)));
        }
    }

    fn go_offline(&self, session: &str) {
        self.inner.online.lock().expect("sim online lock").remove(session);
    }

    /// Records an action under `id`, unless an action with that id was
    /// already taken (a retried send). Returns whether it was new.
    async fn record(&self, session: &str, id: &str, action: Outbound) -> Result<bool, SendError> {
        if self.inner.keep_sent {
            let sent = SimSent {
                session: session.to_string(),
                id: id.to_string(),
                action: serde_json::to_string(&action).map_err(|e| SendError::Failed(e.to_string()))?,
            };
            let new = self
                .inner
                .store
                .writer()
                .sim_sent(sent)
                .await
                .map_err(SendError::Failed)?;
            if !new {
                return Ok(false);
            }
        }
        let entry = SimOutbound {
            session: session.to_string(),
            id: id.to_string(),
            action,
        };
        let mut log = self.inner.log.lock().expect("sim log lock");
        let session_log = match log.get_mut(session) {
            Some(session_log) => session_log,
            None => log.entry(session.to_string()).or_default(),
        };
        if session_log.ids.contains(id) {
            return Ok(false);
        }
        {
            // Under the log's lock: subscribers see actions in log order.
            let mut subscribers = self.inner.subscribers.lock().expect("sim subscribers lock");
            subscribers.retain(|s| s.send(entry.clone()).is_ok());
        }
        if session_log.entries.len() == OUTBOUND_LOG_CAPACITY
            && let Some(oldest) = session_log.entries.pop_front()
        {
            session_log.ids.remove(&oldest.id);
        }
        session_log.ids.insert(entry.id.clone());
        session_log.entries.push_back(entry);
        Ok(true)
    }
}

/// The network's inbox poller: hands the database inbox's messages to
/// their sessions while they are online, in the order they were queued,
/// reading from a cursor and pausing only once it has read everything.
/// Ends with the network.
async fn poll_inbox(network: Weak<Inner>) {
    let mut after = 0;
    let mut caught_up = true;
    loop {
        if caught_up {
            tokio::time::sleep(INBOX_POLL).await;
        }
        let Some(inner) = network.upgrade() else { return };
        if inner.inbox_rescan.swap(false, Ordering::SeqCst) {
            after = 0;
        }
        // Only the sessions online here: with hosts sharing a database, the
        // others' messages are theirs to read.
        let online: Vec<String> = inner.online.lock().expect("sim online lock").keys().cloned().collect();
        if online.is_empty() {
            caught_up = true;
            continue;
        }
        let rows = match inner.store.sim_inbox(after, INBOX_BATCH, &online).await {
            Ok(rows) => rows,
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "sim inbox unreadable");
                caught_up = true;
                continue;
            }
        };
        caught_up = rows.len() < INBOX_BATCH as usize;
        if let Some(last) = rows.last() {
            after = last.seq;
        }
        let pending = deliver_inbox(&inner, rows).await;
        if !pending.is_empty() {
            tokio::spawn(acknowledge(network.clone(), pending));
        }
    }
}

/// Hands `rows` to their sessions, skipping those in flight and every
/// later row of a session found offline (so a session coming online
/// meanwhile gets its rows in order, from the rescan that follows).
/// Returns the rows handed over with their commits.
async fn deliver_inbox(inner: &Inner, rows: Vec<SimInboxRow>) -> Vec<(i64, Commit)> {
    let mut offline = HashSet::new();
    let mut pending = Vec::with_capacity(rows.len());
    for row in rows {
        if offline.contains(&row.session) {
            continue;
        }
        let Some(sink) = inner.online.lock().expect("sim online lock").get(&row.session).cloned() else {
            offline.insert(row.session); // kept for when it is back
            continue;
        };
        if !inner.inbox_in_flight.lock().expect("sim inbox lock").insert(row.seq) {
            continue;
        }
        let from = row.sender.split('@').next().unwrap_or(&row.sender);
        match sink.emit_pipelined(text_message(&row.id, from, &row.text)).await {
            Ok(commit) => pending.push((row.seq, commit)),
            Err(SessionClosed) => {
                // The session closed meanwhile: kept for when it is back.
                inner.inbox_in_flight.lock().expect("sim inbox lock").remove(&row.seq);
                offline.insert(row.session);
            }
        }
    }
    pending
}

/// Waits for the commits of one batch of inbox rows, then deletes the
/// taken ones (taken or a duplicate: either way the session has it) in
/// one request; refused ones are read again from the start.
async fn acknowledge(network: Weak<Inner>, pending: Vec<(i64, Commit)>) {
    let mut taken = Vec::with_capacity(pending.len());
    let mut refused = Vec::new();
    for (seq, commit) in pending {
        match durable(commit).await {
            Ok(()) => taken.push(seq),
            Err(_) => refused.push(seq),
        }
    }
    let Some(inner) = network.upgrade() else { return };
    if !taken.is_empty()
        && let Err(error) = inner.store.writer().sim_ack(taken.clone()).await
    {
        tracing::warn!(%error, messages = taken.len(), "sim inbox messages not deleted; they are delivered again");
    }
    let mut in_flight = inner.inbox_in_flight.lock().expect("sim inbox lock");
    for seq in taken.iter().chain(&refused) {
        in_flight.remove(seq);
    }
    if !refused.is_empty() {
        inner.inbox_rescan.store(true, Ordering::SeqCst);
    }
}

/// The sim message id of a send under idempotency key `key`.
pub(crate) fn message_id(key: &str) -> String {
    format!("sim-out-{key}")
}

/// A fresh id for an inbound sim message: the time in milliseconds, then
/// 64 random bits, so ids of different runs and processes never collide
/// (the journal's deduplication stays right) and ids sort by time. Sorted
/// ids append to the journal's dedupe index; random ones land each on a
/// leaf page of its own, which every commit writes to the WAL whole (4 KiB
/// per event: BENCHMARKS.md, "The ways in").
fn inbound_id() -> String {
    format!("sim-in-{:012x}{:016x}", now_ms(), rand::random::<u64>())
}

/// A direct text message from sim user `from`.
fn text_message(id: &str, from: &str, text: &str) -> ChannelEvent {
    let sender = SimNetwork::address(from);
    ChannelEvent::Message(InboundMessage {
        id: id.to_string(),
        chat: sender.clone(),
        sender,
        from_me: false,
        timestamp_ms: now_ms(),
        push_name: Some(from.to_string()),
        is_group: false,
        quoted_id: None,
        content: Content::Text(text.to_string()),
    })
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

    fn message_id(&self, key: &str) -> String {
        message_id(key)
    }

    async fn send(&self, id: &str, action: Outbound) -> Result<(), SendError> {
        if !self.network.is_online(self.session()) {
            return Err(SendError::NotConnected);
        }
        self.network.record(self.session(), id, action).await?;
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::inbound_id;

    #[test]
    fn inbound_ids_never_repeat_and_sort_by_the_time_they_were_made() {
        let burst: Vec<String> = (0..20_000).map(|_| inbound_id()).collect();
        let distinct: std::collections::HashSet<&String> = burst.iter().collect();
        assert_eq!(distinct.len(), burst.len(), "an id repeated within one burst");

        // Each a millisecond or more after the one before.
        let spaced: Vec<String> = (0..6)
            .map(|_| {
                std::thread::sleep(std::time::Duration::from_millis(2));
                inbound_id()
            })
            .collect();
        let mut sorted = spaced.clone();
        sorted.sort();
        assert_eq!(sorted, spaced, "ids made one after another sort in that order");
    }
}
