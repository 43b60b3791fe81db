//! The network-side data model: what channels emit and what they send.
//!
//! These types mirror the WIT contract but belong to the host: channels
//! speak them, and only the dispatcher converts them into WIT values, so
//! the plugin ABI never leaks into network code. They serialize (JSON) for
//! the journal and the outbox.

use serde::{Deserialize, Serialize};

/// Something that happened on a session's network connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ChannelEvent {
    /// A new account must be linked: show this code as a QR image.
    Qr {
        code: String,
        expires_in_ms: u64,
    },
    /// A new account can be linked by typing this code on the phone.
    PairCode(String),
    /// Connected as this account.
    Connected {
        jid: String,
    },
    /// The connection dropped; the channel retries by itself.
    Disconnected {
        reason: String,
    },
    /// The account was unlinked; only a new QR brings it back.
    LoggedOut {
        reason: String,
    },
    Message(InboundMessage),
    Receipt(Receipt),
    Presence(Presence),
    ChatState(ChatStateUpdate),
    GroupUpdate(GroupUpdate),
}

impl ChannelEvent {
    /// A short name for logs (`message`, `qr`, ...), matching the WIT variant.
    pub fn kind(&self) -> &'static str {
        match self {
            ChannelEvent::Qr { .. } => "qr",
            ChannelEvent::PairCode(_) => "pair-code",
            ChannelEvent::Connected { .. } => "connected",
            ChannelEvent::Disconnected { .. } => "disconnected",
            ChannelEvent::LoggedOut { .. } => "logged-out",
            ChannelEvent::Message(_) => "message",
            ChannelEvent::Receipt(_) => "receipt",
            ChannelEvent::Presence(_) => "presence",
            ChannelEvent::ChatState(_) => "chat-state",
            ChannelEvent::GroupUpdate(_) => "group-update",
        }
    }
}

/// A chat message as the network delivered it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundMessage {
    pub id: String,
    pub chat: String,
    pub sender: String,
    pub from_me: bool,
    pub timestamp_ms: u64,
    pub push_name: Option<String>,
    pub is_group: bool,
    pub quoted_id: Option<String>,
    pub content: Content,
}

/// What a message carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Content {
    Text(String),
    ExtendedText {
        text: String,
        preview_url: Option<String>,
        preview_title: Option<String>,
    },
    Media(MediaKind, Media),
    Location {
        latitude: f64,
        longitude: f64,
        name: Option<String>,
        address: Option<String>,
    },
    Contact {
        display_name: String,
        vcard: String,
    },
    Reaction {
        target_id: String,
        emoji: String,
    },
    Unknown(String),
}

/// The kinds of media a message can carry or a plugin can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MediaKind {
    Image,
    Video,
    Audio,
    Document,
    Sticker,
}

/// A media attachment; bytes are fetched on demand through its handle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Media {
    pub handle: String,
    pub mime: String,
    pub size: u64,
    pub caption: Option<String>,
    pub file_name: Option<String>,
    pub seconds: Option<u32>,
}

/// How far a sent message got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReceiptKind {
    Delivered,
    Read,
    Played,
    Retry,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    pub chat: String,
    pub sender: String,
    pub message_ids: Vec<String>,
    pub kind: ReceiptKind,
    pub timestamp_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Presence {
    pub sender: String,
    pub available: bool,
    pub last_seen_ms: Option<u64>,
}

/// Typing indicators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChatState {
    Composing,
    Recording,
    Paused,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatStateUpdate {
    pub chat: String,
    pub sender: String,
    pub state: ChatState,
}

/// What changed in a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum GroupChange {
    Added(Vec<String>),
    Removed(Vec<String>),
    Promoted(Vec<String>),
    Demoted(Vec<String>),
    Subject(String),
    Description(String),
    AnnounceOnly(bool),
    Locked(bool),
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupUpdate {
    pub group: String,
    pub author: Option<String>,
    pub change: GroupChange,
    pub timestamp_ms: u64,
}

/// Something a session sends or does on the network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Outbound {
    Text {
        chat: String,
        text: String,
    },
    Reply {
        chat: String,
        quoted: String,
        text: String,
    },
    React {
        chat: String,
        target: String,
        emoji: String,
    },
    Media {
        chat: String,
        kind: MediaKind,
        data: Vec<u8>,
        mime: String,
        caption: Option<String>,
        file_name: Option<String>,
    },
    Edit {
        chat: String,
        target: String,
        text: String,
    },
    Delete {
        chat: String,
        target: String,
    },
    MarkRead {
        chat: String,
        sender: String,
        ids: Vec<String>,
    },
    SetChatState {
        chat: String,
        state: ChatState,
    },
}

impl Outbound {
    /// A short name for logs and errors (`send-text`, `react`, ...), matching the WIT function.
    pub fn kind(&self) -> &'static str {
        match self {
            Outbound::Text { .. } => "send-text",
            Outbound::Reply { .. } => "reply",
            Outbound::React { .. } => "react",
            Outbound::Media { .. } => "send-media",
            Outbound::Edit { .. } => "edit",
            Outbound::Delete { .. } => "delete",
            Outbound::MarkRead { .. } => "mark-read",
            Outbound::SetChatState { .. } => "set-chat-state",
        }
    }

    /// The chat the action is in.
    pub fn chat(&self) -> &str {
        match self {
            Outbound::Text { chat, .. }
            | Outbound::Reply { chat, .. }
            | Outbound::React { chat, .. }
            | Outbound::Media { chat, .. }
            | Outbound::Edit { chat, .. }
            | Outbound::Delete { chat, .. }
            | Outbound::MarkRead { chat, .. }
            | Outbound::SetChatState { chat, .. } => chat,
        }
    }

    /// The text a person would read, for sends that carry text.
    pub fn text(&self) -> Option<&str> {
        match self {
            Outbound::Text { text, .. } | Outbound::Reply { text, .. } => Some(text),
            _ => None,
        }
    }
}
