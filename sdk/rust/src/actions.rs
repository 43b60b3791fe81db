//! What a handler does through its `Ctx`: answer, react, send media, keep
//! state per chat or sender, schedule timers. Host errors come back as
//! [`Error`](crate::Error)s.

use crate::bindings::purr::bot::messaging;
use crate::{Content, Ctx, Error, Kv, MediaKind, Result, timers};

impl Ctx {
    /// The message of this event, or an error naming `action`.
    fn require_message(&self, action: &str) -> Result<&crate::Message> {
        self.message()
            .ok_or_else(|| Error::new(format!("{action}: this event is not a message")))
    }

    /// The chat of this event, or an error naming `action`.
    fn require_chat(&self, action: &str) -> Result<&str> {
        self.chat()
            .ok_or_else(|| Error::new(format!("{action}: this event has no chat")))
    }

    /// Answers the message with `text`, quoting it; returns the new message's id.
    pub fn reply(&self, text: impl AsRef<str>) -> Result<String> {
        let message = self.require_message("reply")?;
        Ok(messaging::reply(&message.chat, &message.id, text.as_ref())?)
    }

    /// Sends `text` to this event's chat; returns the new message's id.
    pub fn send(&self, text: impl AsRef<str>) -> Result<String> {
        let chat = self.require_chat("send")?;
        Ok(messaging::send_text(chat, text.as_ref())?)
    }

    /// Sends `text` to `chat` (any chat, e.g. from a timer); returns the new
    /// message's id.
    pub fn send_to(&self, chat: &str, text: impl AsRef<str>) -> Result<String> {
        Ok(messaging::send_text(chat, text.as_ref())?)
    }

    /// Reacts to the message with `emoji` (`""` removes the reaction).
    pub fn react(&self, emoji: &str) -> Result {
        let message = self.require_message("react")?;
        Ok(messaging::react(&message.chat, &message.id, emoji)?)
    }

    /// Uploads `data` and sends it as media to this event's chat; returns
    /// the new message's id.
    pub fn send_media(
        &self,
        kind: MediaKind,
        data: &[u8],
        mime: &str,
        caption: Option<&str>,
        file_name: Option<&str>,
    ) -> Result<String> {
        let chat = self.require_chat("send_media")?;
        Ok(messaging::send_media(chat, kind, data, mime, caption, file_name)?)
    }

    /// The bytes of the message's media; an error if it has none.
    pub fn download(&self) -> Result<Vec<u8>> {
        let media = match &self.require_message("download")?.content {
            Content::Image(media)
            | Content::Video(media)
            | Content::Audio(media)
            | Content::Document(media)
            | Content::Sticker(media) => media,
            _ => return Err(Error::new("download: this message has no media")),
        };
        Ok(messaging::download_media(&media.handle)?)
    }

    /// Marks the message as read.
    pub fn mark_read(&self) -> Result {
        let message = self.require_message("mark_read")?;
        Ok(messaging::mark_read(
            &message.chat,
            &message.sender,
            std::slice::from_ref(&message.id),
        )?)
    }

    /// State of this event's chat (keys stored as `chat/<chat>/<key>`); its
    /// calls fail when the event has no chat.
    pub fn chat_kv(&self) -> Kv {
        Kv::scoped("chat", self.chat(), "chat_kv: this event has no chat")
    }

    /// State of this event's sender (keys stored as `sender/<sender>/<key>`);
    /// its calls fail when the event has no sender.
    pub fn sender_kv(&self) -> Kv {
        Kv::scoped("sender", self.sender(), "sender_kv: this event has no sender")
    }

    /// Schedules a `timer` event for this plugin in `ms` milliseconds,
    /// carrying `payload` as JSON; returns the timer's id.
    pub fn later<T: serde::Serialize + ?Sized>(&self, ms: u64, payload: &T) -> Result<String> {
        timers::later(ms, payload)
    }

    /// Cancels a pending timer; returns whether it was pending.
    pub fn cancel(&self, id: &str) -> Result<bool> {
        timers::cancel(id)
    }
}
