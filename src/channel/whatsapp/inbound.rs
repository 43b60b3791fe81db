//! Protocol events → channel events: what one whatsapp-rust [`Event`] means
//! to purr, as zero or more [`ChannelEvent`]s in order ([`map_event`]).
//!
//! Pure: no client, no I/O, so every mapping is unit-tested on real protocol
//! values (`tests_mapping.rs`).
//!
//! # Messages
//!
//! Each message of an [`Event::Messages`] batch becomes one
//! [`ChannelEvent::Message`], in batch order. Wrappers are peeled the way the
//! crate does ([`MessageExt::get_base_message`]: device-sent, ephemeral,
//! view-once v1/v2/extension, document-with-caption, edited), plus the
//! neutral wrappers the crate's send classifier also looks through
//! (album child, group-mention, bot-invoke, spoiler, lottie sticker).
//!
//! | protocol content | [`Content`] |
//! |---|---|
//! | `conversation` | `Text` |
//! | `extendedTextMessage` with a link preview (`matchedText` or `title`) | `ExtendedText { text, preview_url: matchedText, preview_title: title }` |
//! | `extendedTextMessage` without a preview (e.g. a quoting reply) | `Text` |
//! | `imageMessage` / `videoMessage` (and `ptvMessage`, a video note) / `audioMessage` / `documentMessage` / `stickerMessage` | `Media(kind, Media { handle, mime, size, caption, file_name, seconds })` |
//! | `locationMessage`, `liveLocationMessage` | `Location` |
//! | `contactMessage` | `Contact` |
//! | `reactionMessage` (empty emoji = reaction removed) | `Reaction { target_id, emoji }` |
//! | `protocolMessage` REVOKE / MESSAGE_EDIT | `Unknown("revoke")` / `Unknown("edit")` |
//! | other `protocolMessage`s (key shares, history-sync notices, ephemeral settings, ...) | nothing: protocol plumbing the crate already acted on |
//! | anything else | `Unknown(name)`: the crate's media-type name when it has one (`list`, `order`, `contact_array`, ...), else a short name (`poll`, `poll_vote`, `event`, `group_invite`, `pin`, `keep_in_chat`, `buttons`, `template`, `interactive`, `encrypted_reaction`), else `unknown` |
//!
//! Message fields: `id`, `chat` and `sender` (device part dropped, so a
//! person's phone and laptop are one sender), `from_me`, `timestamp_ms`,
//! `push_name` (`None` when empty), `is_group`, and `quoted_id` (the
//! `stanzaId` of the message's context info, i.e. the message it replies to).
//!
//! Media bytes are not in the event: [`Media::handle`] is an opaque string
//! ([`MediaRef`]) that `outbound::download` turns back into a download:
//! `wa1:` + base64url (no padding) of a JSON object
//! `{"k": kind, "p": direct path, "mk"/"fs"/"fe": hex media key / file SHA-256 / encrypted-file SHA-256, "n": length}`.
//! The `wa1` prefix is the format version; a later format gets a new prefix
//! and old handles keep decoding.
//!
//! # Other events
//!
//! | protocol event | [`ChannelEvent`] |
//! |---|---|
//! | `Receipt` delivered / read / played / retry | `Receipt` (kind `Delivered` / `Read` / `Played` / `Retry`) |
//! | `Receipt` of any other type (`sender`, `read-self`, `played-self`, `inactive`, `server-error`, `peer_msg`, `hist_sync`, `sent`, `enc_rekey_retry`, ...) | nothing: not about how far a sent message got |
//! | `Presence` | `Presence { sender, available, last_seen_ms }` |
//! | `ChatPresence` composing (text) / composing (audio) / paused | `ChatState` `Composing` / `Recording` / `Paused` |
//! | `GroupUpdate` add / remove / promote / demote | `GroupUpdate` `Added` / `Removed` / `Promoted` / `Demoted` (participant JIDs) |
//! | `GroupUpdate` subject / description | `Subject(s)` / `Description(s)` (a deleted description is `Description("")`) |
//! | `GroupUpdate` announcement / not_announcement | `AnnounceOnly(true / false)` |
//! | `GroupUpdate` locked / unlocked | `Locked(true / false)` |
//! | any other `GroupUpdate` action | `Other(<wire tag>)`, e.g. `Other("ephemeral")` |
//! | `PairingQrCode { code, timeout }` | `Qr { code, expires_in_ms }` |
//! | `PairingCode { code, .. }` | `PairCode(code)` |
//! | `Connected` | `Connected { jid: me }` without a device part (`""` if `me` is not known yet) |
//! | `Disconnected { reason }` | `Disconnected { reason }`; the crate reconnects by itself with backoff |
//! | `LoggedOut { reason, .. }` | `LoggedOut { reason }`; the crate stops reconnecting, the device is unlinked |
//! | `StreamReplaced` | `Disconnected { reason: "replaced: ..." }` (see below) |
//! | `TemporaryBan { code, expire, .. }` | `Disconnected { reason: "temporarily banned ...; expires in Ns" }` (see below) |
//! | `ClientOutdated` | `Disconnected { reason: "client outdated ..." }` (see below) |
//! | `ConnectFailure { reason, .. }` | `LoggedOut` if the reason is a logout (401/403/406), else `Disconnected` (see below) |
//! | `PairingQrCodesExhausted { disconnected: true }` | `Disconnected { reason: "pairing QR codes expired ..." }` |
//!
//! ## Disconnected or logged out
//!
//! purr's `LoggedOut` means "only a new QR brings it back", `Disconnected`
//! that the account's auth is still good. What the crate does next decides:
//!
//! - `StreamReplaced` (`<conflict type="replaced">` / stream error 409):
//!   another client took over this account's connection. The crate turns
//!   auto-reconnect off but keeps the device: a later connect works with no
//!   QR. → `Disconnected`, reason says it will not retry by itself (the
//!   channel must not fight the other client in a loop).
//! - `TemporaryBan` (connect failure 402 with an expiry): auto-reconnect is
//!   off; the device stays linked and a connect after the expiry works.
//!   → `Disconnected`, reason carries the ban code, the server's text and
//!   the expiry in seconds.
//! - `ClientOutdated` (405): auto-reconnect off, device linked, but only a
//!   newer whatsapp-rust helps. → `Disconnected`, reason says so.
//! - `ConnectFailure`: the crate sends logout reasons (401 logged out,
//!   403 account locked, 406 unknown logout) as `LoggedOut` instead, so here
//!   they only appear defensively → `LoggedOut`. 500 and 503 keep
//!   auto-reconnect on → `Disconnected` ("will retry"); every other reason
//!   (400, 409, 413, 414, 415, 418, 501, a 402 without expiry, unknown codes)
//!   turns it off → `Disconnected` ("not retrying").
//!
//! The transport's own `Disconnected` usually follows these, so a session
//! sees two `Disconnected`s; the first carries the cause.
//!
//! # Ignored (map to nothing)
//!
//! `PairSuccess` (a `Connected` follows), `PairError`, `PairingCodeRefresh`,
//! `PairingCodeError`, `PairingQrCodesExhausted { disconnected: false }` (a
//! pair-code flow keeps the socket), `QrScannedWithoutMultidevice`,
//! `ServerAck`, `UndecryptableMessage`, `Notification`, `RawNode`,
//! `StreamError` (informational; a real teardown arrives as `Disconnected`),
//! `PictureUpdate`, `UserAboutUpdate`, `ContactUpdated`,
//! `ContactNumberChanged`, `ContactSyncRequested`, `ContactUpdate`, calls
//! (`IncomingCall`, `MissedCall`, `CallEndedElsewhere`), `PushNameUpdate`,
//! `SelfPushNameUpdated`, app-state updates (`PinUpdate`, `MuteUpdate`,
//! `ArchiveUpdate`, `StarUpdate`, `MarkChatAsReadUpdate`, `DeleteChatUpdate`,
//! `ClearChatUpdate`, `UserStatusMuteUpdate`, `DeleteMessageForMeUpdate`,
//! `LabelEditUpdate`, `LabelAssociationUpdate`), `HistorySync` (old
//! messages are not new events), `OfflineSyncPreview`,
//! `OfflineSyncCompleted`, `DirtyState`, `DeviceListUpdate`,
//! `IdentityChange`, `BusinessStatusUpdate`, `DisappearingModeChanged`,
//! `NewsletterLiveUpdate`, `MexNotification`, the passkey pairing events,
//! `AppStateSyncFailed`, and any variant a later crate version adds.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use whatsapp_rust::Jid;
use whatsapp_rust::download::Downloadable;
use whatsapp_rust::proto_helpers::MessageExt;
use whatsapp_rust::types::events::{
    ConnectFailureReason, Event, GroupUpdate as WaGroupUpdate, InboundMessage as WaInbound, LoggedOut as WaLoggedOut,
};
use whatsapp_rust::types::presence::{ChatPresence, ChatPresenceMedia, ReceiptType};
use whatsapp_rust::wacore::stanza::groups::{GroupNotificationAction, GroupParticipantInfo};
use whatsapp_rust::waproto::whatsapp as wa;

use crate::channel::{
    ChannelEvent, ChatState, ChatStateUpdate, Content, GroupChange, GroupUpdate, InboundMessage, Media, MediaKind,
    Presence, Receipt, ReceiptKind,
};

#[cfg(test)]
#[path = "tests_mapping.rs"]
mod tests_mapping;

/// What one protocol event means to purr, in order. `me` is the session's own JID once known.
pub(super) fn map_event(event: &Event, me: Option<&str>) -> Vec<ChannelEvent> {
    match event {
        Event::Messages(batch) => batch.iter().filter_map(message).map(ChannelEvent::Message).collect(),
        Event::Receipt(r) => receipt_kind(&r.r#type)
            .map(|kind| {
                ChannelEvent::Receipt(Receipt {
                    chat: jid(&r.source.chat),
                    sender: jid(&r.source.sender),
                    message_ids: r.message_ids.clone(),
                    kind,
                    timestamp_ms: millis(r.timestamp.timestamp_millis()),
                })
            })
            .into_iter()
            .collect(),
        Event::Presence(p) => vec![ChannelEvent::Presence(Presence {
            sender: jid(&p.from),
            available: !p.unavailable,
            last_seen_ms: p.last_seen.map(|t| millis(t.timestamp_millis())),
        })],
        Event::ChatPresence(c) => vec![ChannelEvent::ChatState(ChatStateUpdate {
            chat: jid(&c.source.chat),
            sender: jid(&c.source.sender),
            state: match (c.state, c.media) {
                (ChatPresence::Composing, ChatPresenceMedia::Audio) => ChatState::Recording,
                (ChatPresence::Composing, ChatPresenceMedia::Text) => ChatState::Composing,
                (ChatPresence::Paused, _) => ChatState::Paused,
            },
        })],
        Event::GroupUpdate(g) => vec![ChannelEvent::GroupUpdate(group_update(g))],
        Event::PairingQrCode(qr) => vec![ChannelEvent::Qr {
            code: qr.code.clone(),
            expires_in_ms: u64::try_from(qr.timeout.as_millis()).unwrap_or(u64::MAX),
        }],
        Event::PairingCode(pc) => vec![ChannelEvent::PairCode(pc.code.clone())],
        Event::Connected(_) => vec![ChannelEvent::Connected {
            jid: me
                .map(|me| me.parse::<Jid>().map_or_else(|_| me.to_string(), |j| jid(&j)))
                .unwrap_or_default(),
        }],
        Event::Disconnected(d) => vec![disconnected(format!("connection lost: {}; reconnecting", d.reason))],
        Event::LoggedOut(l) => vec![ChannelEvent::LoggedOut {
            reason: logged_out_reason(l),
        }],
        Event::StreamReplaced(_) => vec![disconnected(
            "replaced: another client connected with this account; not reconnecting by itself".to_string(),
        )],
        Event::TemporaryBan(ban) => {
            let mut reason = format!("temporarily banned ({})", ban.code);
            if let Some(message) = ban.message.as_deref().filter(|m| !m.is_empty()) {
                reason.push_str(": ");
                reason.push_str(message);
            }
            reason.push_str(&format!(
                "; expires in {}s; not reconnecting by itself",
                ban.expire.num_seconds()
            ));
            vec![disconnected(reason)]
        }
        Event::ClientOutdated(_) => vec![disconnected(
            "client outdated: WhatsApp refused this whatsapp-rust version (405); update purr; not reconnecting"
                .to_string(),
        )],
        Event::ConnectFailure(failure) => {
            let mut what = format!("connect failure {}", failure_code(&failure.reason));
            if let Some(message) = failure.message.as_deref().filter(|m| !m.is_empty()) {
                what.push_str(": ");
                what.push_str(message);
            }
            if failure.reason.is_logged_out() {
                vec![ChannelEvent::LoggedOut { reason: what }]
            } else if failure.reason.should_reconnect() {
                vec![disconnected(format!("{what}; reconnecting"))]
            } else {
                vec![disconnected(format!("{what}; not reconnecting by itself"))]
            }
        }
        Event::PairingQrCodesExhausted(e) if e.disconnected => vec![disconnected(
            "pairing QR codes expired without a scan; start the session again for a new QR".to_string(),
        )],
        _ => Vec::new(),
    }
}

fn disconnected(reason: String) -> ChannelEvent {
    ChannelEvent::Disconnected { reason }
}

/// A JID as purr shows it: without the device part.
fn jid(j: &Jid) -> String {
    j.to_non_ad().to_string()
}

fn millis(ms: i64) -> u64 {
    u64::try_from(ms).unwrap_or(0)
}

fn failure_code(reason: &ConnectFailureReason) -> String {
    format!("{} ({reason:?})", reason.code())
}

fn logged_out_reason(l: &WaLoggedOut) -> String {
    let mut reason = format!("logged out: {}", failure_code(&l.reason));
    if let Some(message) = &l.logout_message {
        for part in [&message.header, &message.subtext].into_iter().flatten() {
            if !part.is_empty() {
                reason.push_str("; ");
                reason.push_str(part);
            }
        }
    }
    reason
}

fn receipt_kind(kind: &ReceiptType) -> Option<ReceiptKind> {
    match kind {
        ReceiptType::Delivered => Some(ReceiptKind::Delivered),
        ReceiptType::Read => Some(ReceiptKind::Read),
        ReceiptType::Played => Some(ReceiptKind::Played),
        ReceiptType::Retry => Some(ReceiptKind::Retry),
        _ => None,
    }
}

fn group_update(g: &WaGroupUpdate) -> GroupUpdate {
    fn jids(participants: &[GroupParticipantInfo]) -> Vec<String> {
        participants.iter().map(|p| jid(&p.jid)).collect()
    }
    let change = match &g.action {
        GroupNotificationAction::Add { participants, .. } => GroupChange::Added(jids(participants)),
        GroupNotificationAction::Remove { participants, .. } => GroupChange::Removed(jids(participants)),
        GroupNotificationAction::Promote { participants } => GroupChange::Promoted(jids(participants)),
        GroupNotificationAction::Demote { participants } => GroupChange::Demoted(jids(participants)),
        GroupNotificationAction::Subject { subject, .. } => GroupChange::Subject(subject.clone()),
        GroupNotificationAction::Description { description, .. } => {
            GroupChange::Description(description.clone().unwrap_or_default())
        }
        GroupNotificationAction::Announce => GroupChange::AnnounceOnly(true),
        GroupNotificationAction::NotAnnounce => GroupChange::AnnounceOnly(false),
        GroupNotificationAction::Locked { .. } => GroupChange::Locked(true),
        GroupNotificationAction::Unlocked => GroupChange::Locked(false),
        other => GroupChange::Other(other.tag_name().to_string()),
    };
    GroupUpdate {
        group: jid(&g.group_jid),
        author: g.participant.as_ref().map(jid),
        change,
        timestamp_ms: millis(g.timestamp.timestamp_millis()),
    }
}

/// One decrypted message, or `None` for protocol plumbing.
fn message(m: &WaInbound) -> Option<InboundMessage> {
    let info = &m.info;
    let base = base_message(&m.message);
    let content = content(base)?;
    Some(InboundMessage {
        id: info.id.clone(),
        chat: jid(&info.source.chat),
        sender: jid(&info.source.sender),
        from_me: info.source.is_from_me,
        timestamp_ms: millis(info.timestamp.timestamp_millis()),
        push_name: Some(info.push_name.clone()).filter(|n| !n.is_empty()),
        is_group: info.source.is_group,
        quoted_id: quoted_id(base),
        content,
    })
}

/// The content inside every wrapper: the crate's own unwrapping, then the
/// neutral wrappers its send classifier also looks through.
fn base_message(msg: &wa::Message) -> &wa::Message {
    let mut current = msg.get_base_message();
    for _ in 0..8 {
        let inner = [
            &current.associated_child_message,
            &current.group_mentioned_message,
            &current.bot_invoke_message,
            &current.spoiler_message,
            &current.lottie_sticker_message,
        ]
        .into_iter()
        .find_map(|wrapper| wrapper.as_option().and_then(|w| w.message.as_option()));
        match inner {
            Some(inner) => current = inner.get_base_message(),
            None => break,
        }
    }
    current
}

/// The id of the message this one replies to.
fn quoted_id(msg: &wa::Message) -> Option<String> {
    macro_rules! context {
        ($($field:ident),+ $(,)?) => {
            None $(.or_else(|| msg.$field.as_option().and_then(|m| m.context_info.as_option())))+
        };
    }
    let context: Option<&wa::ContextInfo> = context!(
        extended_text_message,
        image_message,
        video_message,
        ptv_message,
        audio_message,
        document_message,
        sticker_message,
        location_message,
        live_location_message,
        contact_message,
        contacts_array_message,
    );
    context.and_then(|c| c.stanza_id.clone()).filter(|id| !id.is_empty())
}

fn content(msg: &wa::Message) -> Option<Content> {
    if let Some(text) = msg.conversation.as_deref().filter(|t| !t.is_empty()) {
        return Some(Content::Text(text.to_string()));
    }
    if let Some(ext) = msg.extended_text_message.as_option() {
        let text = ext.text.clone().unwrap_or_default();
        let preview_url = ext.matched_text.clone().filter(|u| !u.trim().is_empty());
        let preview_title = ext.title.clone().filter(|t| !t.is_empty());
        return Some(if preview_url.is_none() && preview_title.is_none() {
            Content::Text(text)
        } else {
            Content::ExtendedText {
                text,
                preview_url,
                preview_title,
            }
        });
    }
    if let Some(media) = media(msg) {
        return Some(media);
    }
    if let Some(loc) = msg.location_message.as_option() {
        return Some(Content::Location {
            latitude: loc.degrees_latitude.unwrap_or_default(),
            longitude: loc.degrees_longitude.unwrap_or_default(),
            name: loc.name.clone().filter(|n| !n.is_empty()),
            address: loc.address.clone().filter(|a| !a.is_empty()),
        });
    }
    if let Some(loc) = msg.live_location_message.as_option() {
        return Some(Content::Location {
            latitude: loc.degrees_latitude.unwrap_or_default(),
            longitude: loc.degrees_longitude.unwrap_or_default(),
            name: None,
            address: None,
        });
    }
    if let Some(contact) = msg.contact_message.as_option() {
        return Some(Content::Contact {
            display_name: contact.display_name.clone().unwrap_or_default(),
            vcard: contact.vcard.clone().unwrap_or_default(),
        });
    }
    if let Some(reaction) = msg.reaction_message.as_option() {
        return Some(Content::Reaction {
            target_id: reaction.key.as_option().and_then(|k| k.id.clone()).unwrap_or_default(),
            emoji: reaction.text.clone().unwrap_or_default(),
        });
    }
    if let Some(protocol) = msg.protocol_message.as_option() {
        use wa::message::protocol_message::Type;
        return match protocol.r#type {
            Some(Type::REVOKE) => Some(Content::Unknown("revoke".to_string())),
            Some(Type::MESSAGE_EDIT) => Some(Content::Unknown("edit".to_string())),
            _ if protocol.edited_message.is_set() => Some(Content::Unknown("edit".to_string())),
            _ => None,
        };
    }
    Some(Content::Unknown(unknown_kind(msg).to_string()))
}

fn unknown_kind(msg: &wa::Message) -> &'static str {
    if msg.poll_creation_message.is_set()
        || msg.poll_creation_message_v2.is_set()
        || msg.poll_creation_message_v3.is_set()
        || msg.poll_creation_message_v5.is_set()
    {
        return "poll";
    }
    let named: [(bool, &'static str); 9] = [
        (msg.poll_update_message.is_set(), "poll_vote"),
        (msg.event_message.is_set(), "event"),
        (msg.group_invite_message.is_set(), "group_invite"),
        (msg.pin_in_chat_message.is_set(), "pin"),
        (msg.keep_in_chat_message.is_set(), "keep_in_chat"),
        (msg.buttons_message.is_set(), "buttons"),
        (msg.template_message.is_set(), "template"),
        (msg.interactive_message.is_set(), "interactive"),
        (msg.enc_reaction_message.is_set(), "encrypted_reaction"),
    ];
    if let Some((_, name)) = named.into_iter().find(|(set, _)| *set) {
        return name;
    }
    whatsapp_rust::wacore::send::media_type_from_message(msg).unwrap_or("unknown")
}

fn media(msg: &wa::Message) -> Option<Content> {
    /// What differs between the media protos; the download fields come
    /// from the crate's `Downloadable`, which every one of them implements.
    struct Described<'a> {
        kind: MediaKind,
        file: &'a dyn Downloadable,
        mime: Option<&'a String>,
        caption: Option<&'a String>,
        file_name: Option<&'a String>,
        seconds: Option<u32>,
    }
    let described = |kind, file, mime, caption, file_name, seconds| Described {
        kind,
        file,
        mime,
        caption,
        file_name,
        seconds,
    };
    let d = if let Some(m) = msg.image_message.as_option() {
        described(MediaKind::Image, m, m.mimetype.as_ref(), m.caption.as_ref(), None, None)
    } else if let Some(m) = msg.video_message.as_option().or(msg.ptv_message.as_option()) {
        described(
            MediaKind::Video,
            m,
            m.mimetype.as_ref(),
            m.caption.as_ref(),
            None,
            m.seconds,
        )
    } else if let Some(m) = msg.audio_message.as_option() {
        described(MediaKind::Audio, m, m.mimetype.as_ref(), None, None, m.seconds)
    } else if let Some(m) = msg.document_message.as_option() {
        let name = m.file_name.as_ref();
        described(
            MediaKind::Document,
            m,
            m.mimetype.as_ref(),
            m.caption.as_ref(),
            name,
            None,
        )
    } else if let Some(m) = msg.sticker_message.as_option() {
        described(MediaKind::Sticker, m, m.mimetype.as_ref(), None, None, None)
    } else {
        return None;
    };
    let media_ref = MediaRef {
        kind: kind_name(d.kind).to_string(),
        direct_path: d.file.direct_path().unwrap_or_default().to_string(),
        media_key: d.file.media_key().map(hex::encode).unwrap_or_default(),
        file_sha256: d.file.file_sha256().map(hex::encode).unwrap_or_default(),
        file_enc_sha256: d.file.file_enc_sha256().map(hex::encode).unwrap_or_default(),
        length: d.file.file_length().unwrap_or_default(),
    };
    let nonempty = |s: Option<&String>| s.filter(|s| !s.is_empty()).cloned();
    Some(Content::Media(
        d.kind,
        Media {
            handle: media_ref.encode(),
            mime: nonempty(d.mime).unwrap_or_else(|| default_mime(d.kind).to_string()),
            size: d.file.file_length().unwrap_or_default(),
            caption: nonempty(d.caption),
            file_name: nonempty(d.file_name),
            seconds: d.seconds,
        },
    ))
}

/// The MIME type WhatsApp clients assume when a media message names none.
pub(super) fn default_mime(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Image => "image/jpeg",
        MediaKind::Video => "video/mp4",
        MediaKind::Audio => "audio/ogg; codecs=opus",
        MediaKind::Document => "application/octet-stream",
        MediaKind::Sticker => "image/webp",
    }
}

pub(super) fn kind_name(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Image => "image",
        MediaKind::Video => "video",
        MediaKind::Audio => "audio",
        MediaKind::Document => "document",
        MediaKind::Sticker => "sticker",
    }
}

/// What a media handle carries: enough to fetch and decrypt the media
/// without the original message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct MediaRef {
    /// `image`, `video`, `audio`, `document` or `sticker`.
    #[serde(rename = "k")]
    pub kind: String,
    #[serde(rename = "p")]
    pub direct_path: String,
    /// Hex.
    #[serde(rename = "mk")]
    pub media_key: String,
    /// Hex SHA-256 of the plaintext.
    #[serde(rename = "fs")]
    pub file_sha256: String,
    /// Hex SHA-256 of the encrypted file.
    #[serde(rename = "fe")]
    pub file_enc_sha256: String,
    /// Plaintext length in bytes.
    #[serde(rename = "n")]
    pub length: u64,
}

/// Format version 1 of media handles.
const HANDLE_V1: &str = "wa1:";

impl MediaRef {
    pub(super) fn encode(&self) -> String {
        let json = serde_json::to_vec(self).expect("a MediaRef always serializes");
        format!("{HANDLE_V1}{}", URL_SAFE_NO_PAD.encode(json))
    }

    pub(super) fn decode(handle: &str) -> Result<MediaRef, String> {
        let Some(body) = handle.strip_prefix(HANDLE_V1) else {
            return Err("not a WhatsApp media handle (expected the wa1: prefix)".to_string());
        };
        let json = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|e| format!("malformed WhatsApp media handle: {e}"))?;
        serde_json::from_slice(&json).map_err(|e| format!("malformed WhatsApp media handle: {e}"))
    }
}
