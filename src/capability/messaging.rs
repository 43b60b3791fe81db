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

use std::sync::{Arc, Mutex};
use std::time::Instant;

use wasmtime::component::{HasSelf, Linker};

use crate::channel::{self, Channel, Outbound};
use crate::plugin::PluginState;
use crate::plugin::bindings::purr::bot::messaging::{self as wit, Host, MediaKind};
use crate::plugin::bindings::purr::bot::types::ChatState;

/// A session's allowance of messaging calls: a token bucket holding up to
/// `per_minute` tokens, refilled at `per_minute` per minute.
pub struct SendBudget {
    per_minute: u32,
    bucket: Mutex<(f64, Instant)>,
}

impl SendBudget {
    pub fn new(per_minute: u32) -> Self {
        SendBudget {
            per_minute,
            bucket: Mutex::new((f64::from(per_minute), Instant::now())),
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
}

impl EventSends {
    /// Starts collecting the sends of event `event_id`.
    pub fn begin(&self, event_id: &str) {
        let mut pending = self.lock();
        pending.event_id.clear();
        pending.event_id.push_str(event_id);
        pending.sends.clear();
    }

    /// The sends collected since [`begin`](Self::begin): (idempotency key, action).
    pub fn take(&self) -> Vec<(String, Outbound)> {
        std::mem::take(&mut self.lock().sends)
    }

    /// Adds a send; returns its idempotency key.
    fn push(&self, action: Outbound) -> String {
        let mut pending = self.lock();
        let key = format!("{}.{}", pending.event_id, pending.sends.len());
        pending.sends.push((key.clone(), action));
        key
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PendingSends> {
        self.0.lock().expect("event sends lock")
    }
}

/// The messaging capability of one instance.
pub struct Messaging {
    channel: Arc<dyn Channel>,
    budget: Arc<SendBudget>,
    sends: EventSends,
}

impl Messaging {
    pub fn new(channel: Arc<dyn Channel>, budget: Arc<SendBudget>, sends: EventSends) -> Self {
        Messaging { channel, budget, sends }
    }

    async fn perform(&self, action: Outbound) -> Result<Option<String>, String> {
        let kind = action.kind();
        if !self.budget.try_take() {
            return Err(format!(
                "{kind}: send quota: this session may make {} messaging calls per minute",
                self.budget.per_minute
            ));
        }
        let key = self.sends.push(action);
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
