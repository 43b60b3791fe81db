//! `purr:bot/messaging`: sending and acting on messages as the session's account.
//!
//! A send does not reach the network during the plugin call: it is added to
//! the [`EventSends`] of the event being handled, under an idempotency key
//! (the event id plus the send's index), and the plugin gets at once the
//! message id the network will give it. When the event is done the session
//! writes its sends to the outbox in the same transaction that marks the
//! event done, and the outbox sender delivers them (`session::sender`).
//! So a replayed event does not send twice, and a send survives a crash
//! or a dropped connection. Failures reach the plugin as error strings,
//! never as traps.
//!
//! Each session has a [`SendBudget`] of `sends_per_minute` messaging calls
//! shared by all its plugins: a token bucket that refills continuously, so a
//! plugin flooding sends is refused (with an error it sees) once the bucket
//! is empty, while the network and other sessions never notice.
//!
//! Sizes are bounded before a send is queued, per plugin (its quotas):
//! a text, reply, edit or caption over `max_text_bytes` (or over the
//! channel's own limit, [`channel_text_chars`]), media over
//! `max_media_bytes`, an address, id, emoji, MIME type or file name over
//! [`MAX_FIELD_BYTES`], a `mark-read` of more than [`MAX_MARK_READ_IDS`]
//! ids, and sends that would take the plugin's total for the event over
//! `max_event_send_bytes` are refused with an error the plugin sees,
//! counted in `purr_quota_exceeded_total`. A refused call takes no send
//! from the budget.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use wasmtime::component::{HasSelf, Linker};

use std::collections::HashMap;

use crate::capability::log::LogBudget;
use crate::channel::{self, Channel, Outbound};
use crate::config::{ChannelKind, PluginQuotas};
use crate::observe::Metrics;
use crate::plugin::PluginState;
use crate::plugin::bindings::purr::bot::messaging::{self as wit, Host, MediaKind};
use crate::plugin::bindings::purr::bot::types::ChatState;

/// The longest address (jid), message id, emoji, MIME type or file name a
/// messaging call may carry, in bytes (fixed).
pub const MAX_FIELD_BYTES: usize = 1024;

/// The most message ids one `mark-read` may name (fixed).
pub const MAX_MARK_READ_IDS: usize = 1000;

/// The longest text `kind` carries in one message, in characters (`None`:
/// only the plugin's `max_text_bytes`). WhatsApp clients cut texts at
/// 65,536 characters.
pub fn channel_text_chars(kind: ChannelKind) -> Option<usize> {
    match kind {
        ChannelKind::Whatsapp => Some(65_536),
        ChannelKind::Sim => None,
    }
}

/// A session's per-minute allowances: its messaging calls (a token bucket
/// holding up to `per_minute` tokens, refilled at `per_minute` per minute,
/// shared by its plugins) and each plugin's log bytes ([`LogBudget`]).
pub struct SendBudget {
    per_minute: u32,
    bucket: Mutex<(f64, Instant)>,
    logs: Mutex<HashMap<Arc<str>, Arc<LogBudget>>>,
}

impl SendBudget {
    pub fn new(per_minute: u32) -> Self {
        SendBudget {
            per_minute,
            bucket: Mutex::new((f64::from(per_minute), Instant::now())),
            logs: Mutex::default(),
        }
    }

    /// The log allowance of `plugin` in this session, shared by its
    /// instances (a new instance does not get a fresh one); made anew when
    /// its limits changed (a reloaded config).
    pub fn log_budget(&self, plugin: &Arc<str>, quotas: &PluginQuotas) -> Arc<LogBudget> {
        let mut logs = self.logs.lock().expect("log budgets lock");
        match logs.get(plugin) {
            Some(budget) if budget.fits(quotas) => budget.clone(),
            _ => {
                let budget = Arc::new(LogBudget::new(quotas));
                logs.insert(plugin.clone(), budget.clone());
                budget
            }
        }
    }

    /// Takes one token; `false` if the bucket is empty.
    pub fn try_take(&self) -> bool {
        let mut bucket = self.bucket.lock().expect("send budget lock");
        let (tokens, refilled_at) = &mut *bucket;
        let now = Instant::now();
        let refill = now.duration_since(*refilled_at).as_secs_f64() * f64::from(self.per_minute) / 60.0;
        *tokens = (*tokens + refill).min(f64::from(self.per_minute));
        *refilled_at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The sends the session's plugins make while it handles one event.
#[derive(Clone, Default)]
pub struct EventSends(Arc<Mutex<PendingSends>>);

#[derive(Default)]
struct PendingSends {
    event_id: String,
    sends: Vec<(String, Outbound)>,
    /// Bytes each plugin queued for this event.
    bytes: HashMap<Arc<str>, u64>,
}

impl EventSends {
    /// Starts collecting the sends of event `event_id`.
    pub fn begin(&self, event_id: &str) {
        let mut pending = self.lock();
        pending.event_id.clear();
        pending.event_id.push_str(event_id);
        pending.sends.clear();
        pending.bytes.clear();
    }

    /// Bytes `plugin` queued for the current event so far.
    fn bytes_of(&self, plugin: &str) -> u64 {
        self.lock().bytes.get(plugin).copied().unwrap_or(0)
    }

    /// The sends collected since [`begin`](Self::begin): (idempotency key, action).
    pub fn take(&self) -> Vec<(String, Outbound)> {
        std::mem::take(&mut self.lock().sends)
    }

    /// How many sends the current event has so far: a mark for [`since`](Self::since).
    pub fn count(&self) -> usize {
        self.lock().sends.len()
    }

    /// The current event's sends made after `mark` (a [`count`](Self::count)), in order.
    pub fn since(&self, mark: usize) -> Vec<Outbound> {
        let pending = self.lock();
        let from = mark.min(pending.sends.len());
        pending.sends[from..].iter().map(|(_, action)| action.clone()).collect()
    }

    /// Adds a send of `bytes` made by `plugin`; returns its idempotency key.
    fn push(&self, plugin: &Arc<str>, bytes: u64, action: Outbound) -> String {
        let mut pending = self.lock();
        let key = format!("{}.{}", pending.event_id, pending.sends.len());
        pending.sends.push((key.clone(), action));
        *pending.bytes.entry(plugin.clone()).or_default() += bytes;
        key
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PendingSends> {
        self.0.lock().expect("event sends lock")
    }
}

/// The parts of an outbound action, for its size checks.
struct Parts<'a> {
    /// Text a person reads: the text, or the caption.
    text: Option<&'a str>,
    media: usize,
    /// Addresses, ids, emoji, MIME type, file name.
    fields: Vec<&'a str>,
}

impl<'a> Parts<'a> {
    fn of(action: &'a Outbound) -> Self {
        let (text, media, fields): (Option<&str>, usize, Vec<&str>) = match action {
            Outbound::Text { chat, text } => (Some(text), 0, vec![chat]),
            Outbound::Reply { chat, quoted, text } => (Some(text), 0, vec![chat, quoted]),
            Outbound::React { chat, target, emoji } => (None, 0, vec![chat, target, emoji]),
            Outbound::Media {
                chat,
                data,
                mime,
                caption,
                file_name,
                ..
            } => {
                let mut fields = vec![chat.as_str(), mime.as_str()];
                fields.extend(file_name.as_deref());
                (caption.as_deref(), data.len(), fields)
            }
            Outbound::Edit { chat, target, text } => (Some(text), 0, vec![chat, target]),
            Outbound::Delete { chat, target } => (None, 0, vec![chat, target]),
            Outbound::MarkRead { chat, sender, ids } => {
                let mut fields = vec![chat.as_str(), sender.as_str()];
                fields.extend(ids.iter().map(String::as_str));
                (None, 0, fields)
            }
            Outbound::SetChatState { chat, .. } => (None, 0, vec![chat]),
        };
        Parts { text, media, fields }
    }

    fn bytes(&self) -> u64 {
        (self.text.map_or(0, str::len) + self.media + self.fields.iter().map(|f| f.len()).sum::<usize>()) as u64
    }
}

/// Who sends, and the size limits of their sends (shared by reference:
/// the capability states are kept small).
struct Sender {
    session: Arc<str>,
    plugin: Arc<str>,
    text_bytes: u64,
    media_bytes: u64,
    event_send_bytes: u64,
}

/// The messaging capability of one instance.
pub struct Messaging {
    channel: Arc<dyn Channel>,
    budget: Arc<SendBudget>,
    sends: EventSends,
    sender: Arc<Sender>,
}

impl Messaging {
    pub fn new(
        channel: Arc<dyn Channel>,
        budget: Arc<SendBudget>,
        sends: EventSends,
        session: Arc<str>,
        plugin: Arc<str>,
        quotas: &PluginQuotas,
    ) -> Self {
        Messaging {
            channel,
            budget,
            sends,
            sender: Arc::new(Sender {
                session,
                plugin,
                text_bytes: quotas.text_bytes,
                media_bytes: quotas.media_bytes,
                event_send_bytes: quotas.event_send_bytes,
            }),
        }
    }

    /// The action's size in bytes, or the quota it breaks (its config key)
    /// and the refusal.
    fn measure(&self, action: &Outbound) -> Result<u64, (&'static str, String)> {
        let parts = Parts::of(action);
        if let Some(field) = parts.fields.iter().find(|f| f.len() > MAX_FIELD_BYTES) {
            return Err((
                "message_field_bytes",
                format!(
                    "message quota: an address, id or name of {} bytes is over the {MAX_FIELD_BYTES} byte limit",
                    field.len()
                ),
            ));
        }
        if let Outbound::MarkRead { ids, .. } = action
            && ids.len() > MAX_MARK_READ_IDS
        {
            return Err((
                "mark_read_ids",
                format!(
                    "message quota: {} ids are over the limit of {MAX_MARK_READ_IDS} per call",
                    ids.len()
                ),
            ));
        }
        if let Some(text) = parts.text {
            if text.len() as u64 > self.sender.text_bytes {
                return Err((
                    "max_text_bytes",
                    format!(
                        "message quota: a text of {} bytes is over the {} byte limit",
                        text.len(),
                        self.sender.text_bytes
                    ),
                ));
            }
            let kind = self.channel.kind();
            if let Some(limit) = channel_text_chars(kind)
                && text.chars().count() > limit
            {
                return Err((
                    "channel_text_chars",
                    format!(
                        "message quota: a text of {} characters is over {}'s limit of {limit}",
                        text.chars().count(),
                        kind.as_str()
                    ),
                ));
            }
        }
        if parts.media as u64 > self.sender.media_bytes {
            return Err((
                "max_media_bytes",
                format!(
                    "message quota: media of {} bytes is over the {} byte limit",
                    parts.media, self.sender.media_bytes
                ),
            ));
        }
        let bytes = parts.bytes();
        let after = self.sends.bytes_of(&self.sender.plugin) + bytes;
        if after > self.sender.event_send_bytes {
            return Err((
                "max_event_send_bytes",
                format!(
                    "message quota: this event's sends would take {after} bytes, over the {} byte limit",
                    self.sender.event_send_bytes
                ),
            ));
        }
        Ok(bytes)
    }

    async fn perform(&self, action: Outbound) -> Result<Option<String>, String> {
        let kind = action.kind();
        let bytes = match self.measure(&action) {
            Ok(bytes) => bytes,
            Err((quota, refusal)) => {
                Metrics::quota_exceeded(&self.sender.session, &self.sender.plugin, quota);
                return Err(format!("{kind}: {refusal}"));
            }
        };
        if !self.budget.try_take() {
            Metrics::quota_exceeded(&self.sender.session, &self.sender.plugin, "sends_per_minute");
            return Err(format!(
                "{kind}: send quota: this session may make {} messaging calls per minute",
                self.budget.per_minute
            ));
        }
        let key = self.sends.push(&self.sender.plugin, bytes, action);
        Ok(Some(self.channel.message_id(&key)))
    }

    /// Performs a send that must yield a message id.
    async fn send(&self, action: Outbound) -> wasmtime::Result<Result<String, String>> {
        Ok(self.perform(action).await.map(Option::unwrap_or_default))
    }

    /// Performs an action whose result is only success or failure.
    async fn act(&self, action: Outbound) -> wasmtime::Result<Result<(), String>> {
        Ok(self.perform(action).await.map(drop))
    }
}

impl Host for Messaging {
    async fn send_text(&mut self, chat: String, text: String) -> wasmtime::Result<Result<String, String>> {
        self.send(Outbound::Text { chat, text }).await
    }

    async fn reply(&mut self, chat: String, quoted: String, text: String) -> wasmtime::Result<Result<String, String>> {
        self.send(Outbound::Reply { chat, quoted, text }).await
    }

    async fn react(&mut self, chat: String, target: String, emoji: String) -> wasmtime::Result<Result<(), String>> {
        self.act(Outbound::React { chat, target, emoji }).await
    }

    async fn send_media(
        &mut self,
        chat: String,
        kind: MediaKind,
        data: Vec<u8>,
        mime: String,
        caption: Option<String>,
        file_name: Option<String>,
    ) -> wasmtime::Result<Result<String, String>> {
        let kind = match kind {
            MediaKind::Image => channel::MediaKind::Image,
            MediaKind::Video => channel::MediaKind::Video,
            MediaKind::Audio => channel::MediaKind::Audio,
            MediaKind::Document => channel::MediaKind::Document,
            MediaKind::Sticker => channel::MediaKind::Sticker,
        };
        self.send(Outbound::Media {
            chat,
            kind,
            data,
            mime,
            caption,
            file_name,
        })
        .await
    }

    async fn edit(&mut self, chat: String, target: String, text: String) -> wasmtime::Result<Result<(), String>> {
        self.act(Outbound::Edit { chat, target, text }).await
    }

    async fn delete(&mut self, chat: String, target: String) -> wasmtime::Result<Result<(), String>> {
        self.act(Outbound::Delete { chat, target }).await
    }

    async fn mark_read(
        &mut self,
        chat: String,
        sender: String,
        ids: Vec<String>,
    ) -> wasmtime::Result<Result<(), String>> {
        self.act(Outbound::MarkRead { chat, sender, ids }).await
    }

    async fn set_chat_state(&mut self, chat: String, state: ChatState) -> wasmtime::Result<Result<(), String>> {
        let state = match state {
            ChatState::Composing => channel::ChatState::Composing,
            ChatState::Recording => channel::ChatState::Recording,
            ChatState::Paused => channel::ChatState::Paused,
        };
        self.act(Outbound::SetChatState { chat, state }).await
    }

    async fn download_media(&mut self, handle: String) -> wasmtime::Result<Result<Vec<u8>, String>> {
        Ok(self
            .channel
            .download_media(&handle)
            .await
            .map_err(|e| format!("download-media: {e}")))
    }
}

pub fn add_to_linker(linker: &mut Linker<PluginState>) -> anyhow::Result<()> {
    wit::add_to_linker::<PluginState, HasSelf<Messaging>>(linker, |state| &mut state.messaging)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_of_a_send_is_measured() {
        let media = Outbound::Media {
            chat: "a@sim".into(),
            kind: channel::MediaKind::Document,
            data: vec![0; 1000],
            mime: "text/plain".into(),
            caption: Some("hi".into()),
            file_name: Some("f.txt".into()),
        };
        let parts = Parts::of(&media);
        assert_eq!((parts.text, parts.media), (Some("hi"), 1000));
        assert_eq!(parts.fields, ["a@sim", "text/plain", "f.txt"]);
        assert_eq!(parts.bytes(), 1000 + 2 + 5 + 10 + 5);
        let read = Outbound::MarkRead {
            chat: "a@sim".into(),
            sender: "b@sim".into(),
            ids: vec!["1".into(), "22".into()],
        };
        assert_eq!(Parts::of(&read).fields, ["a@sim", "b@sim", "1", "22"]);
    }

    #[test]
    fn whatsapp_caps_texts_in_characters_and_sim_does_not() {
        assert_eq!(channel_text_chars(ChannelKind::Whatsapp), Some(65_536));
        assert_eq!(channel_text_chars(ChannelKind::Sim), None);
    }
}
