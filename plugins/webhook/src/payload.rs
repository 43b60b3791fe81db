//! The JSON body of one forwarded event (`docs/webhook.md` has the shape):
//! `{"session", "event_id", "event", "data"}`, `data` mirroring the WIT
//! event with snake_case keys.

use purr_sdk::serde_json::{Value, json};
use purr_sdk::{ChatState, Content, Ctx, Event, GroupChange, Media, Message, ReceiptKind};

/// The WIT name of the event's case.
pub fn kind(event: &Event) -> &'static str {
    match event {
        Event::Started => "started",
        Event::Qr(_) => "qr",
        Event::PairCode(_) => "pair-code",
        Event::Connected(_) => "connected",
        Event::Disconnected(_) => "disconnected",
        Event::LoggedOut(_) => "logged-out",
        Event::Message(_) => "message",
        Event::Receipt(_) => "receipt",
        Event::Presence(_) => "presence",
        Event::ChatState(_) => "chat-state",
        Event::GroupUpdate(_) => "group-update",
        Event::Timer(_) => "timer",
    }
}

/// The request body for the event of `ctx`.
pub fn body(ctx: &Ctx, kind: &str) -> Value {
    json!({
        "session": ctx.session,
        "event_id": ctx.event_id,
        "event": kind,
        "data": data(&ctx.event),
    })
}

fn data(event: &Event) -> Value {
    match event {
        Event::Started => Value::Null,
        Event::Qr(qr) => json!({ "code": qr.code, "expires_in_ms": qr.expires_in_ms }),
        Event::PairCode(code) => json!({ "code": code }),
        Event::Connected(jid) => json!({ "jid": jid }),
        Event::Disconnected(reason) | Event::LoggedOut(reason) => json!({ "reason": reason }),
        Event::Message(message) => message_data(message),
        Event::Receipt(receipt) => json!({
            "chat": receipt.chat,
            "sender": receipt.sender,
            "message_ids": receipt.message_ids,
            "kind": match receipt.kind {
                ReceiptKind::Delivered => "delivered",
                ReceiptKind::Read => "read",
                ReceiptKind::Played => "played",
                ReceiptKind::Retry => "retry",
            },
            "timestamp_ms": receipt.timestamp_ms,
        }),
        Event::Presence(presence) => json!({
            "sender": presence.sender,
            "available": presence.available,
            "last_seen_ms": presence.last_seen_ms,
        }),
        Event::ChatState(update) => json!({
            "chat": update.chat,
            "sender": update.sender,
            "state": match update.state {
                ChatState::Composing => "composing",
                ChatState::Recording => "recording",
                ChatState::Paused => "paused",
            },
        }),
        Event::GroupUpdate(update) => json!({
            "group": update.group,
            "author": update.author,
            "change": group_change(&update.change),
            "timestamp_ms": update.timestamp_ms,
        }),
        Event::Timer(timer) => json!({ "id": timer.id, "payload": timer.payload }),
    }
}

fn message_data(message: &Message) -> Value {
    json!({
        "id": message.id,
        "chat": message.chat,
        "sender": message.sender,
        "from_me": message.from_me,
        "timestamp_ms": message.timestamp_ms,
        "push_name": message.push_name,
        "is_group": message.is_group,
        "quoted_id": message.quoted_id,
        "content": content(&message.content),
    })
}

fn content(content: &Content) -> Value {
    match content {
        Content::Text(text) => json!({ "type": "text", "text": text }),
        Content::ExtendedText(extended) => json!({
            "type": "extended-text",
            "text": extended.text,
            "preview_url": extended.preview_url,
            "preview_title": extended.preview_title,
        }),
        Content::Image(media) => media_data("image", media),
        Content::Video(media) => media_data("video", media),
        Content::Audio(media) => media_data("audio", media),
        Content::Document(media) => media_data("document", media),
        Content::Sticker(media) => media_data("sticker", media),
        Content::Location(location) => json!({
            "type": "location",
            "latitude": location.latitude,
            "longitude": location.longitude,
            "name": location.name,
            "address": location.address,
        }),
        Content::Contact(contact) => json!({
            "type": "contact",
            "display_name": contact.display_name,
            "vcard": contact.vcard,
        }),
        Content::Reaction(reaction) => json!({
            "type": "reaction",
            "target_id": reaction.target_id,
            "emoji": reaction.emoji,
        }),
        Content::Unknown(kind) => json!({ "type": "unknown", "kind": kind }),
    }
}

fn media_data(kind: &str, media: &Media) -> Value {
    json!({
        "type": kind,
        "handle": media.handle,
        "mime": media.mime,
        "size": media.size,
        "caption": media.caption,
        "file_name": media.file_name,
        "seconds": media.seconds,
    })
}

fn group_change(change: &GroupChange) -> Value {
    let participants = |kind: &str, jids: &[String]| json!({ "type": kind, "participants": jids });
    match change {
        GroupChange::Added(jids) => participants("added", jids),
        GroupChange::Removed(jids) => participants("removed", jids),
        GroupChange::Promoted(jids) => participants("promoted", jids),
        GroupChange::Demoted(jids) => participants("demoted", jids),
        GroupChange::Subject(subject) => json!({ "type": "subject", "subject": subject }),
        GroupChange::Description(text) => json!({ "type": "description", "description": text }),
        GroupChange::AnnounceOnly(on) => json!({ "type": "announce-only", "enabled": on }),
        GroupChange::Locked(on) => json!({ "type": "locked", "enabled": on }),
        GroupChange::Other(kind) => json!({ "type": "other", "kind": kind }),
    }
}
