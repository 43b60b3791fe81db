//! Conversion of the host's network model into the plugins' WIT types.
//!
//! This is the only place where channel types meet WIT types.

use crate::channel::{self as net, ChannelEvent};
use crate::plugin::bindings::purr::bot::types as wit;

/// The WIT event for a network event.
pub fn event(event: &ChannelEvent) -> wit::Event {
    match event {
        ChannelEvent::Qr { code, expires_in_ms } => wit::Event::Qr(wit::QrCode {
            code: code.clone(),
            expires_in_ms: *expires_in_ms,
        }),
        ChannelEvent::PairCode(code) => wit::Event::PairCode(code.clone()),
        ChannelEvent::Connected { jid } => wit::Event::Connected(jid.clone()),
        ChannelEvent::Disconnected { reason } => wit::Event::Disconnected(reason.clone()),
        ChannelEvent::LoggedOut { reason } => wit::Event::LoggedOut(reason.clone()),
        ChannelEvent::Message(m) => wit::Event::Message(message(m)),
        ChannelEvent::Receipt(r) => wit::Event::Receipt(wit::Receipt {
            chat: r.chat.clone(),
            sender: r.sender.clone(),
            message_ids: r.message_ids.clone(),
            kind: match r.kind {
                net::ReceiptKind::Delivered => wit::ReceiptKind::Delivered,
                net::ReceiptKind::Read => wit::ReceiptKind::Read,
                net::ReceiptKind::Played => wit::ReceiptKind::Played,
                net::ReceiptKind::Retry => wit::ReceiptKind::Retry,
            },
            timestamp_ms: r.timestamp_ms,
        }),
        ChannelEvent::Presence(p) => wit::Event::Presence(wit::Presence {
            sender: p.sender.clone(),
            available: p.available,
            last_seen_ms: p.last_seen_ms,
        }),
        ChannelEvent::ChatState(c) => wit::Event::ChatState(wit::ChatStateUpdate {
            chat: c.chat.clone(),
            sender: c.sender.clone(),
            state: match c.state {
                net::ChatState::Composing => wit::ChatState::Composing,
                net::ChatState::Recording => wit::ChatState::Recording,
                net::ChatState::Paused => wit::ChatState::Paused,
            },
        }),
        ChannelEvent::GroupUpdate(g) => wit::Event::GroupUpdate(wit::GroupUpdate {
            group: g.group.clone(),
            author: g.author.clone(),
            change: group_change(&g.change),
            timestamp_ms: g.timestamp_ms,
        }),
    }
}

fn message(m: &net::InboundMessage) -> wit::Message {
    wit::Message {
        id: m.id.clone(),
        chat: m.chat.clone(),
        sender: m.sender.clone(),
        from_me: m.from_me,
        timestamp_ms: m.timestamp_ms,
        push_name: m.push_name.clone(),
        is_group: m.is_group,
        quoted_id: m.quoted_id.clone(),
        content: content(&m.content),
    }
}

fn content(c: &net::Content) -> wit::Content {
    match c {
        net::Content::Text(text) => wit::Content::Text(text.clone()),
        net::Content::ExtendedText {
            text,
            preview_url,
            preview_title,
        } => wit::Content::ExtendedText(wit::ExtendedText {
            text: text.clone(),
            preview_url: preview_url.clone(),
            preview_title: preview_title.clone(),
        }),
        net::Content::Media(kind, m) => {
            let media = wit::Media {
                handle: m.handle.clone(),
                mime: m.mime.clone(),
                size: m.size,
                caption: m.caption.clone(),
                file_name: m.file_name.clone(),
                seconds: m.seconds,
            };
            match kind {
                net::MediaKind::Image => wit::Content::Image(media),
                net::MediaKind::Video => wit::Content::Video(media),
                net::MediaKind::Audio => wit::Content::Audio(media),
                net::MediaKind::Document => wit::Content::Document(media),
                net::MediaKind::Sticker => wit::Content::Sticker(media),
            }
        }
        net::Content::Location {
            latitude,
            longitude,
            name,
            address,
        } => wit::Content::Location(wit::Location {
            latitude: *latitude,
            longitude: *longitude,
            name: name.clone(),
            address: address.clone(),
        }),
        net::Content::Contact { display_name, vcard } => wit::Content::Contact(wit::Contact {
            display_name: display_name.clone(),
            vcard: vcard.clone(),
        }),
        net::Content::Reaction { target_id, emoji } => wit::Content::Reaction(wit::Reaction {
            target_id: target_id.clone(),
            emoji: emoji.clone(),
        }),
        net::Content::Unknown(kind) => wit::Content::Unknown(kind.clone()),
    }
}

fn group_change(change: &net::GroupChange) -> wit::GroupChange {
    match change {
        net::GroupChange::Added(j) => wit::GroupChange::Added(j.clone()),
        net::GroupChange::Removed(j) => wit::GroupChange::Removed(j.clone()),
        net::GroupChange::Promoted(j) => wit::GroupChange::Promoted(j.clone()),
        net::GroupChange::Demoted(j) => wit::GroupChange::Demoted(j.clone()),
        net::GroupChange::Subject(s) => wit::GroupChange::Subject(s.clone()),
        net::GroupChange::Description(s) => wit::GroupChange::Description(s.clone()),
        net::GroupChange::AnnounceOnly(b) => wit::GroupChange::AnnounceOnly(*b),
        net::GroupChange::Locked(b) => wit::GroupChange::Locked(*b),
        net::GroupChange::Other(s) => wit::GroupChange::Other(s.clone()),
    }
}
