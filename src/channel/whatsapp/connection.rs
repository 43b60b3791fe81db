//! One session's WhatsApp connection: [`WhatsappChannel`].
//!
//! `connect` builds a whatsapp-rust `Bot` over the session's
//! [`WhatsappStore`]: a new device shows QR codes (and a pair code when the
//! session has `pair_phone`), a stored one logs straight in. Reconnecting
//! after a network loss is the crate's (with backoff); the `disconnected`
//! → `connected` events it emits become the session's status.
//!
//! Delivery is in order and at least once. Messages reach purr through the
//! crate's inbound durability hook: it hands a batch to the session's
//! journal and returns only once the journal has committed it, and only
//! then does the crate acknowledge the messages to WhatsApp (a failed
//! commit or a crash means WhatsApp delivers them again; the journal drops
//! the duplicates by message id). Every other event goes through one raw
//! event handler, which runs inline on the crate's dispatch path, into one
//! forwarding task per session: arrival order is kept (the crate's default
//! callback delivery is concurrent and unordered).
//!
//! `logout` unlinks the device on WhatsApp (connecting first if needed)
//! and then deletes the session's rows; an unlink done from the phone
//! deletes them too, so the next `start` shows a fresh QR.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use whatsapp_rust::bot::{Bot, BotHandle};
use whatsapp_rust::pair_code::PairCodeOptions;
use whatsapp_rust::traits::DeviceStore as _;
use whatsapp_rust::types::events::{BatchOrigin, Event, EventHandler, InboundMessage, MessageBatch};
use whatsapp_rust::{Client, InboundDurabilityHook};

use super::outbound::KnownMessage;
use super::store::WhatsappStore;
use super::{Connector, SharedHttp, SharedTransport, inbound, outbound};
use crate::channel::EventSink;
use crate::channel::{Channel, ChannelEvent, Outbound, SendError};
use crate::config::ChannelKind;

/// How long `logout` waits for a stopped session to come online so it can
/// unlink the device.
const LOGOUT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a graceful shutdown of the connection may take before it is cut.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the account is, as the channel last heard from the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Offline,
    Online,
    LoggedOut,
}

/// One session's WhatsApp connection.
pub struct WhatsappChannel {
    sink: EventSink,
    store: WhatsappStore,
    connector: Connector,
    /// Digits of the phone number to link by pair code, if any.
    pair_phone: Option<String>,
    running: tokio::sync::Mutex<Option<Running>>,
    /// Authors of the latest messages, for quotes and reactions.
    recent: RecentMessages,
}

/// A started bot and the task forwarding its events.
struct Running {
    bot: BotHandle,
    client: Arc<Client>,
    forwarder: JoinHandle<()>,
    watchdog: JoinHandle<()>,
    link: watch::Receiver<Link>,
}

impl WhatsappChannel {
    /// The channel of the session fed by `sink`, its auth in `store`.
    pub fn new(sink: EventSink, store: WhatsappStore, connector: Connector, pair_phone: Option<&str>) -> Self {
        WhatsappChannel {
            sink,
            store,
            connector,
            pair_phone: pair_phone.map(|phone| phone.chars().filter(char::is_ascii_digit).collect()),
            running: tokio::sync::Mutex::new(None),
            recent: RecentMessages::default(),
        }
    }

    fn session(&self) -> &str {
        self.sink.session()
    }

    /// Builds and spawns the session's bot.
    async fn spawn_bot(&self) -> anyhow::Result<Running> {
        let (events, queued) = mpsc::unbounded_channel();
        let (link_tx, link) = watch::channel(Link::Offline);
        let client_of_handler = Arc::new(OnceLock::new());
        let mut builder = Bot::builder()
            .with_backend(self.store.clone())
            .with_transport_factory(SharedTransport(self.connector.transport.clone()))
            .with_http_client(SharedHttp(self.connector.http.clone()))
            .with_event_handler(Forward {
                events,
                link: link_tx,
                client: client_of_handler.clone(),
            })
            .with_inbound_durability_hook(Journal {
                sink: self.sink.clone(),
                recent: self.recent.clone(),
            })
            .skip_history_sync();
        if let Some(phone) = &self.pair_phone {
            builder = builder.with_pair_code(PairCodeOptions {
                phone_number: phone.clone(),
                ..PairCodeOptions::default()
            });
        }
        let bot = builder.build().await.context("setting up the WhatsApp client")?;
        let client = bot.client();
        client_of_handler
            .set(Arc::downgrade(&client))
            .expect("set once, before the bot runs");
        let forwarder = tokio::spawn(forward(queued, self.sink.clone(), self.recent.clone()));
        let watchdog = tokio::spawn(report_unreachable(
            Arc::downgrade(&client),
            self.sink.clone(),
            link.clone(),
        ));
        Ok(Running {
            bot: bot.spawn(),
            client,
            forwarder,
            watchdog,
            link,
        })
    }

    /// Stops the bot (gracefully; cut after [`SHUTDOWN_TIMEOUT`], as
    /// dropping its handle aborts it) and its forwarder. If WhatsApp had
    /// unlinked the device, its now useless keys are deleted — after the
    /// bot stopped, so nothing writes them back.
    async fn stop(&self, running: Running) -> anyhow::Result<()> {
        let Running {
            bot,
            forwarder,
            watchdog,
            link,
            ..
        } = running;
        watchdog.abort();
        if tokio::time::timeout(SHUTDOWN_TIMEOUT, bot.shutdown()).await.is_err() {
            tracing::warn!(
                session = self.session(),
                "the WhatsApp connection did not close in time and was cut"
            );
        }
        forwarder.abort();
        if *link.borrow() == Link::LoggedOut {
            self.store.wipe().await.context("deleting the unlinked device's keys")?;
            tracing::info!(
                session = self.session(),
                "device unlinked by WhatsApp: its keys were deleted"
            );
        }
        Ok(())
    }

    /// Unlinks the linked device on WhatsApp through `current`, or through
    /// a connection made for it, and stops that connection.
    async fn unlink(&self, current: Option<Running>) -> anyhow::Result<()> {
        let mut current = match current {
            Some(current) => current,
            None => self.spawn_bot().await?,
        };
        let reached = tokio::time::timeout(
            LOGOUT_CONNECT_TIMEOUT,
            current.link.wait_for(|link| *link != Link::Offline),
        )
        .await;
        let link = reached.ok().and_then(Result::ok).map(|link| *link);
        if link == Some(Link::Online) {
            current.client.logout().await;
        }
        self.stop(current).await?;
        match link {
            Some(_) => Ok(()),
            None => anyhow::bail!(
                "could not reach WhatsApp to unlink the device: its keys are kept; try again when online \
                 (or remove the linked device on the phone, then destroy again)"
            ),
        }
    }

    /// Whether the stored device was ever linked to an account.
    async fn has_account(&self) -> anyhow::Result<bool> {
        let device = self.store.load().await.context("reading the stored device")?;
        Ok(device.is_some_and(|device| device.pn.is_some()))
    }
}

#[async_trait]
impl Channel for WhatsappChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Whatsapp
    }

    async fn connect(&self) -> anyhow::Result<()> {
        let mut running = self.running.lock().await;
        // A device unlinked meanwhile starts over with a new QR.
        if let Some(current) = running.take_if(|current| *current.link.borrow() == Link::LoggedOut) {
            self.stop(current).await?;
        }
        if running.is_none() {
            tracing::info!(session = self.session(), "connecting to WhatsApp");
            *running = Some(self.spawn_bot().await?);
        }
        Ok(())
    }

    async fn disconnect(&self) -> anyhow::Result<()> {
        if let Some(running) = self.running.lock().await.take() {
            tracing::info!(session = self.session(), "disconnecting from WhatsApp");
            self.stop(running).await?;
        }
        Ok(())
    }

    async fn logout(&self) -> anyhow::Result<()> {
        let mut running = self.running.lock().await;
        let current = running.take();
        if self.has_account().await? {
            self.unlink(current).await?;
        } else if let Some(current) = current {
            self.stop(current).await?; // never linked: nothing to tell WhatsApp
        }
        self.store
            .wipe()
            .await
            .context("deleting the session's WhatsApp data")?;
        tracing::info!(
            session = self.session(),
            "WhatsApp device unlinked and its data deleted"
        );
        Ok(())
    }

    fn message_id(&self, key: &str) -> String {
        super::message_id(self.session(), key)
    }

    async fn send(&self, id: &str, action: Outbound) -> Result<(), SendError> {
        let client = self.client().await?;
        let known = match &action {
            Outbound::Reply { quoted: target, .. }
            | Outbound::React { target, .. }
            | Outbound::Edit { target, .. }
            | Outbound::Delete { target, .. } => self.recent.lookup(target),
            _ => None,
        };
        let sent_message = matches!(
            action,
            Outbound::Text { .. } | Outbound::Reply { .. } | Outbound::Media { .. }
        );
        outbound::perform(&client, id, action, known.as_ref()).await?;
        if sent_message && let Some(me) = client.pn() {
            self.recent.note(id, me.to_non_ad().to_string(), true);
        }
        Ok(())
    }

    async fn download_media(&self, handle: &str) -> Result<Vec<u8>, SendError> {
        let client = self.client().await?;
        outbound::download(&client, handle).await
    }
}

impl WhatsappChannel {
    /// The connected client, for outbound calls.
    async fn client(&self) -> Result<Arc<Client>, SendError> {
        let running = self.running.lock().await;
        match running.as_ref() {
            Some(running) if running.client.is_connected() => Ok(running.client.clone()),
            _ => Err(SendError::NotConnected),
        }
    }
}

/// The raw event handler: runs inline on the crate's dispatch path, so it
/// only maps the event (skipping messages the durability hook already
/// journaled), notes the link state and queues the result, keeping
/// arrival order.
struct Forward {
    events: mpsc::UnboundedSender<ChannelEvent>,
    link: watch::Sender<Link>,
    /// The bot's client (set once it is built), for the session's own JID.
    client: Arc<OnceLock<Weak<Client>>>,
}

impl EventHandler for Forward {
    fn handle_event(&self, event: Arc<Event>) {
        if let Event::Messages(batch) = &*event
            && batch.hook_committed
        {
            return;
        }
        let me = self
            .client
            .get()
            .and_then(Weak::upgrade)
            .and_then(|client| client.pn())
            .map(|jid| jid.to_string());
        for mapped in inbound::map_event(&event, me.as_deref()) {
            // The link state as the session's status shows it (a connect
            // failure with 401 is an unlink too).
            let link = match mapped {
                ChannelEvent::Connected { .. } => Some(Link::Online),
                ChannelEvent::Disconnected { .. } => Some(Link::Offline),
                ChannelEvent::LoggedOut { .. } => Some(Link::LoggedOut),
                _ => None,
            };
            if let Some(link) = link {
                // An unlink is final for this connection: the drop of the
                // connection that follows it does not make it "offline".
                self.link.send_if_modified(|current| {
                    let changes = *current != link && !(*current == Link::LoggedOut && link == Link::Offline);
                    if changes {
                        *current = link;
                    }
                    changes
                });
            }
            // The forwarder is gone only when the channel stopped the bot.
            let _ = self.events.send(mapped);
        }
    }
}

/// Hands the mapped events to the session, in order.
async fn forward(mut queued: mpsc::UnboundedReceiver<ChannelEvent>, sink: EventSink, recent: RecentMessages) {
    while let Some(event) = queued.recv().await {
        recent.note_event(&event);
        if sink.emit(event).await.is_err() {
            return; // the session is closing
        }
    }
}

/// How often a connection checks whether its attempts to reach WhatsApp fail.
const REACHABILITY_CHECK: Duration = Duration::from_secs(2);

/// Failed connection attempts in a row after which the session shows it.
const FAILED_ATTEMPTS_SHOWN: u32 = 2;

/// Shows a connection that cannot reach WhatsApp. The crate retries with
/// backoff but emits no event for a failed attempt, so without this a
/// session with no way to WhatsApp (no network, DNS, a firewall) would
/// show `starting` forever: after [`FAILED_ATTEMPTS_SHOWN`] failures in a
/// row it shows `disconnected` with the reason, once until it connects.
async fn report_unreachable(client: Weak<Client>, sink: EventSink, link: watch::Receiver<Link>) {
    let mut shown = false;
    loop {
        tokio::time::sleep(REACHABILITY_CHECK).await;
        let Some(client) = client.upgrade() else { return };
        let failures = client.stats().reconnect_errors;
        if client.is_connected() || failures == 0 {
            shown = false;
            continue;
        }
        if shown || failures < FAILED_ATTEMPTS_SHOWN || *link.borrow() == Link::LoggedOut {
            continue;
        }
        let reason = format!(
            "cannot reach WhatsApp: {failures} connection attempts in a row failed; \
             retrying with backoff (the logs of whatsapp_rust say why)"
        );
        tracing::warn!(session = sink.session(), failures, "cannot reach WhatsApp");
        if sink.emit(ChannelEvent::Disconnected { reason }).await.is_err() {
            return;
        }
        shown = true;
    }
}

/// The inbound durability hook: a batch of messages is acknowledged to
/// WhatsApp only once the session's journal has committed it.
struct Journal {
    sink: EventSink,
    recent: RecentMessages,
}

#[async_trait]
impl InboundDurabilityHook for Journal {
    async fn on_messages(&self, client: Arc<Client>, batch: &[InboundMessage]) -> anyhow::Result<()> {
        let me = client.pn().map(|jid| jid.to_string());
        self.commit(batch, me.as_deref()).await
    }
}

impl Journal {
    /// Hands `batch` to the session's journal and returns once all of it
    /// is committed; an error (nothing acknowledged) if any of it is not.
    async fn commit(&self, batch: &[InboundMessage], me: Option<&str>) -> anyhow::Result<()> {
        let event = Event::Messages(
            MessageBatch::builder()
                .messages(batch.to_vec().into())
                .origin(BatchOrigin::Live)
                .build(),
        );
        let mut commits = Vec::with_capacity(batch.len());
        for mapped in inbound::map_event(&event, me) {
            self.recent.note_event(&mapped);
            commits.push(self.sink.emit_pipelined(mapped).await?);
        }
        for commit in commits {
            commit
                .await
                .map_err(|_| crate::channel::SessionClosed)?
                .map_err(|error| anyhow::anyhow!("journal: {error}"))?;
        }
        Ok(())
    }
}

/// How many recent messages a session remembers the authors of.
const RECENT_MESSAGES: usize = 4096;

/// The authors of a session's latest messages (received and sent), by
/// message id: a plugin quotes, reacts to, edits or deletes a message by
/// id, and WhatsApp wants to know who wrote it. Oldest forgotten first.
#[derive(Clone, Default)]
struct RecentMessages(Arc<Mutex<Recent>>);

#[derive(Default)]
struct Recent {
    by_id: HashMap<String, KnownMessage>,
    order: VecDeque<String>,
}

impl RecentMessages {
    fn note(&self, id: &str, sender: String, from_me: bool) {
        let mut recent = self.0.lock().expect("recent messages lock");
        if recent
            .by_id
            .insert(id.to_string(), KnownMessage { sender, from_me })
            .is_none()
        {
            recent.order.push_back(id.to_string());
        }
        while recent.order.len() > RECENT_MESSAGES {
            if let Some(oldest) = recent.order.pop_front() {
                recent.by_id.remove(&oldest);
            }
        }
    }

    fn note_event(&self, event: &ChannelEvent) {
        if let ChannelEvent::Message(message) = event {
            self.note(&message.id, message.sender.clone(), message.from_me);
        }
    }

    fn lookup(&self, id: &str) -> Option<KnownMessage> {
        self.0.lock().expect("recent messages lock").by_id.get(id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use whatsapp_rust::types::message::{MessageInfo, MessageSource};
    use whatsapp_rust::waproto::whatsapp as wa;

    use super::*;
    use crate::channel::Content;

    const PEER: &str = "15550001111@s.whatsapp.net";

    /// A text message from PEER, as the crate hands it over.
    fn inbound(id: &str, text: &str) -> InboundMessage {
        let peer: whatsapp_rust::Jid = PEER.parse().unwrap();
        let info = MessageInfo {
            source: MessageSource {
                chat: peer.clone(),
                sender: peer,
                ..Default::default()
            },
            id: id.to_string(),
            ..Default::default()
        };
        let message = wa::Message {
            conversation: Some(text.to_string()),
            ..Default::default()
        };
        InboundMessage::builder()
            .message(Arc::new(message))
            .info(Arc::new(info))
            .build()
    }

    fn text_of(event: &ChannelEvent) -> (&str, &str) {
        match event {
            ChannelEvent::Message(message) => match &message.content {
                Content::Text(text) => (message.id.as_str(), text.as_str()),
                other => panic!("not text: {other:?}"),
            },
            other => panic!("not a message: {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_batch_is_acknowledged_only_once_the_journal_committed_all_of_it() {
        let (sink, mut journal) = EventSink::for_test("s");
        let hook = Journal {
            sink,
            recent: RecentMessages::default(),
        };
        let batch = [inbound("M1", "one"), inbound("M2", "two")];
        let acked = tokio::spawn(async move { hook.commit(&batch, None).await });
        let (first, commit_first) = journal.recv().await.unwrap();
        let (second, commit_second) = journal.recv().await.unwrap();
        assert_eq!([text_of(&first), text_of(&second)], [("M1", "one"), ("M2", "two")]);
        commit_first.send(Ok(true)).unwrap();
        tokio::task::yield_now().await;
        assert!(!acked.is_finished(), "acknowledged before M2 was committed");
        commit_second.send(Ok(false)).unwrap(); // a duplicate the journal already had
        acked.await.unwrap().expect("acknowledged once all is committed");

        // A failed commit refuses the whole batch: WhatsApp delivers it again.
        let (sink, mut journal) = EventSink::for_test("s");
        let hook = Journal {
            sink,
            recent: RecentMessages::default(),
        };
        let batch = [inbound("M3", "three"), inbound("M4", "four")];
        let acked = tokio::spawn(async move { hook.commit(&batch, None).await });
        let (_, commit) = journal.recv().await.unwrap();
        commit.send(Err("disk full".into())).unwrap();
        let (_, commit) = journal.recv().await.unwrap();
        commit.send(Ok(true)).unwrap();
        let refused = acked.await.unwrap().expect_err("not acknowledged");
        assert!(refused.to_string().contains("disk full"), "{refused:#}");
    }

    #[tokio::test]
    async fn the_forwarder_keeps_order_and_skips_what_the_hook_journaled() {
        let (sink, mut journal) = EventSink::for_test("s");
        let (events, queued) = mpsc::unbounded_channel();
        let handler = Forward {
            events,
            link: watch::channel(Link::Offline).0,
            client: Arc::default(),
        };
        let recent = RecentMessages::default();
        tokio::spawn(forward(queued, sink, recent.clone()));
        let batch = |ids: &[&str], hook_committed: bool| {
            let messages: Vec<InboundMessage> = ids.iter().map(|id| inbound(id, id)).collect();
            Arc::new(Event::Messages(
                MessageBatch::builder()
                    .messages(messages.into())
                    .origin(BatchOrigin::Live)
                    .hook_committed(hook_committed)
                    .build(),
            ))
        };
        handler.handle_event(batch(&["H1"], true)); // journaled by the hook already
        handler.handle_event(batch(&["N1", "N2"], false)); // e.g. a newsletter: the event is all there is
        handler.handle_event(batch(&["H2"], true));
        handler.handle_event(batch(&["N3"], false));
        let mut seen = Vec::new();
        while seen.len() < 3 {
            let (event, commit) = journal.recv().await.unwrap();
            seen.push(text_of(&event).0.to_string());
            commit.send(Ok(true)).unwrap();
        }
        assert_eq!(seen, ["N1", "N2", "N3"]);
        assert!(recent.lookup("N2").is_some_and(|known| known.sender == PEER));
    }

    #[test]
    fn recent_messages_remember_authors_and_forget_the_oldest() {
        let recent = RecentMessages::default();
        recent.note("first", "alice@s.whatsapp.net".into(), false);
        recent.note("mine", "me@s.whatsapp.net".into(), true);
        assert_eq!(
            recent.lookup("first"),
            Some(KnownMessage {
                sender: "alice@s.whatsapp.net".into(),
                from_me: false
            })
        );
        assert!(recent.lookup("mine").is_some_and(|known| known.from_me));
        for n in 0..RECENT_MESSAGES {
            recent.note(&format!("m{n}"), "bob@s.whatsapp.net".into(), false);
        }
        assert_eq!(recent.lookup("first"), None, "the oldest is forgotten");
        assert_eq!(recent.lookup("mine"), None);
        assert!(recent.lookup(&format!("m{}", RECENT_MESSAGES - 1)).is_some());
        assert_eq!(recent.0.lock().unwrap().by_id.len(), RECENT_MESSAGES);
    }
}
