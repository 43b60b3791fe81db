//! purr → protocol: [`Outbound`] actions and media downloads as whatsapp-rust
//! [`Client`] calls.
//!
//! Two halves: [`plan`] turns an action into what to send (pure, unit-tested:
//! the exact `wa::Message` or call arguments), and [`perform`] makes the
//! network call(s).
//!
//! # Message ids
//!
//! [`message_id`] derives the id from the idempotency key: `3EB0` + 18
//! uppercase hex digits (the first 9 bytes of SHA-256 over a fixed
//! domain-separation prefix and the key), the shape WhatsApp Web's own ids
//! have (whatsapp-rust's generator makes the same shape from a random hash).
//! Same key, same id; so a send retried after a crash reaches the network as
//! the same message, which the server takes once.
//!
//! Every action that is a message stanza is sent under that id:
//!
//! | action | how | id |
//! |---|---|---|
//! | `Text` | `conversation` | `SendOptions::with_message_id` |
//! | `Reply` | `extendedTextMessage` with a quote context | same |
//! | `React` | `reactionMessage` (crate's `build_reaction_message`) | same |
//! | `Media` | `Client::upload`, then an image/video/audio/document/sticker message | same (a retry uploads again, but the message id stays) |
//! | `Delete` (own message) | `protocolMessage` REVOKE with `fromMe`, the shape of the crate's `revoke_message` (whose send path infers the same `edit="7"` attribute) | same |
//! | `Delete` (someone else's group message, when the target is known not to be ours) | `Client::revoke_message` with `RevokeType::Admin` | the crate's own fresh id: it has no id option; a revoke applied twice is still one deletion |
//! | `Edit` | `Client::edit_message_with_options` with `EditOptions::with_stanza_id` | same; the crate then keeps no retry-cache entry for the edit, so a peer device that fails to decrypt it cannot get it re-sent |
//! | `MarkRead` | `Client::mark_as_read` (sender only for groups and status) | receipts have no message id; a repeat is harmless |
//! | `SetChatState` | `Client::chatstate().send` | chat states have no id |
//!
//! # Quotes and targets
//!
//! An action only names the message it quotes or targets by id. WhatsApp
//! wants more: a quote's `participant` (who wrote the quoted message) and a
//! reaction key's `fromMe`/`participant`. When purr does not
//! know the target (no [`KnownMessage`]), the guesses are: the quoted/targeted message was written by
//! the other person in a direct chat (`participant` = the chat, `fromMe` =
//! false) — right for a bot answering what it received — and in a group
//! the participant is left out, which WhatsApp may not attribute. Callers
//! that know the target pass it to [`perform`] as a [`KnownMessage`]: the
//! channel remembers the authors of the session's latest messages. The quote carries no copy of the
//! quoted content (`quotedMessage`): other people's clients look the message
//! up by id and do not trust a copy anyway; the bot's own phone may show an
//! empty quote.
//!
//! # Limits
//!
//! - Reactions in Community Announcement Groups must be encrypted with the
//!   target's message secret; the crate does that only inside
//!   `Client::send_reaction`, which cannot take a message id, so those fail
//!   here as the server refuses a plaintext reaction.
//! - Media are built from the upload result field by field (the fields of
//!   `whatsapp_rust::media::*_message`, plus a sticker, for which the crate
//!   has no builder) rather than through those builders: their
//!   `UploadResponse` argument cannot be built outside the crate, which would
//!   leave the media messages untestable here.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use whatsapp_rust::download::{DownloadParams, MediaType};
use whatsapp_rust::features::ChatStateType;
use whatsapp_rust::proto_helpers::{MessageBuilderExt, build_reaction_message};
use whatsapp_rust::upload::{UploadOptions, UploadResponse};
use whatsapp_rust::wacore_binary::JidExt;
use whatsapp_rust::waproto::buffa::MessageField;
use whatsapp_rust::waproto::whatsapp as wa;
use whatsapp_rust::{Client, ClientError, EditOptions, Jid, RevokeType, SendOptions};

use super::inbound::{MediaRef, default_mime, kind_name};
use crate::channel::{ChatState, MediaKind, Outbound, SendError};

/// Separates purr's message ids from any other use of SHA-256 over the same keys.
const ID_DOMAIN: &[u8] = b"purr/whatsapp/message-id\0";

/// The WhatsApp message id for idempotency key `key`: same key, same id (format like the ids WhatsApp clients make, e.g. "3EB0" + uppercase hex of a hash).
pub(super) fn message_id(key: &str) -> String {
    let hash = Sha256::new()
        .chain_update(ID_DOMAIN)
        .chain_update(key.as_bytes())
        .finalize();
    format!("3EB0{}", hex::encode_upper(&hash[..9]))
}

/// What purr knows about the message an action quotes or targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct KnownMessage {
    /// Who wrote it (a JID; our own for our messages).
    pub sender: String,
    pub from_me: bool,
}

/// Performs `action`; sends use `id` as the message id, so a retry is the
/// same message to the network. `known` is what purr knows of the message
/// the action quotes or targets (its author matters in groups).
pub(super) async fn perform(
    client: &Arc<Client>,
    id: &str,
    action: Outbound,
    known: Option<&KnownMessage>,
) -> Result<(), SendError> {
    let plan = plan(action, known, now_ms())?;
    if !client.is_connected() {
        return Err(SendError::NotConnected);
    }
    let with_id = || SendOptions::default().with_message_id(id);
    match plan {
        Plan::Send { to, message } => {
            client
                .send_message_with_options(to, message, with_id())
                .await
                .map_err(send_error)?;
        }
        Plan::Upload { to, media } => {
            let upload = client
                .upload(media.data.clone(), media_type(media.kind), UploadOptions::default())
                .await
                .map_err(anyhow_error)?;
            let message = media_message(&media, Uploaded::from(upload));
            client
                .send_message_with_options(to, message, with_id())
                .await
                .map_err(send_error)?;
        }
        Plan::Edit { to, target, content } => {
            client
                .edit_message_with_options(to, target, content, EditOptions::default().with_stanza_id(id))
                .await
                .map_err(send_error)?;
        }
        Plan::AdminRevoke {
            to,
            target,
            original_sender,
        } => {
            client
                .revoke_message(to, target, RevokeType::Admin { original_sender })
                .await
                .map_err(send_error)?;
        }
        Plan::MarkRead { chat, sender, ids } => {
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            client
                .mark_as_read(&chat, sender.as_ref(), &ids)
                .await
                .map_err(anyhow_error)?;
        }
        Plan::ChatState { to, state } => {
            client.chatstate().send(&to, state).await.map_err(|e| match e {
                whatsapp_rust::features::ChatStateError::Client(e) => client_error(e),
                other => SendError::Failed(other.to_string()),
            })?;
        }
    }
    Ok(())
}

/// Fetches and decrypts the media behind a handle made by `inbound`.
pub(super) async fn download(client: &Arc<Client>, handle: &str) -> Result<Vec<u8>, SendError> {
    let params = download_params(handle)?;
    if !client.is_connected() {
        return Err(SendError::NotConnected);
    }
    client.download_from_params(&params).await.map_err(anyhow_error)
}

/// The crate's download parameters for a handle.
fn download_params(handle: &str) -> Result<DownloadParams, SendError> {
    let r = MediaRef::decode(handle).map_err(SendError::Failed)?;
    let kind = [
        MediaKind::Image,
        MediaKind::Video,
        MediaKind::Audio,
        MediaKind::Document,
        MediaKind::Sticker,
    ]
    .into_iter()
    .find(|k| kind_name(*k) == r.kind)
    .ok_or_else(|| SendError::Failed(format!("media handle of unknown kind {:?}", r.kind)))?;
    let bytes = |what: &str, hex_text: &str| {
        hex::decode(hex_text)
            .ok()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| SendError::Failed(format!("media handle has no {what}: the message carried none")))
    };
    if r.direct_path.is_empty() {
        return Err(SendError::Failed(
            "media handle has no direct path: the message carried none".into(),
        ));
    }
    check_direct_path(&r.direct_path)?;
    Ok(DownloadParams::encrypted(
        r.direct_path,
        &bytes("media key", &r.media_key)?,
        &bytes("file hash", &r.file_sha256)?,
        &bytes("encrypted file hash", &r.file_enc_sha256)?,
        r.length,
        media_type(kind),
    ))
}

/// Refuses a direct path that is not a plain path on WhatsApp's media
/// host. The download URL is `https://{media host}{direct path}?auth=…`, so
/// a "path" such as `@other.example/x` or `//other.example/x` (from a
/// remote sender's message, or a plugin's handle) would send the request —
/// and its auth token — to another server.
fn check_direct_path(path: &str) -> Result<(), SendError> {
    let plain = path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains(['@', '\\'])
        && !path.contains("://")
        && !path.chars().any(|c| c.is_control() || c.is_whitespace());
    if plain {
        Ok(())
    } else {
        Err(SendError::Failed(format!(
            "media handle has an invalid direct path {path:?}: expected a path on the media host"
        )))
    }
}

/// What to do on the network for one action.
#[derive(Debug, Clone, PartialEq)]
enum Plan {
    /// Send this message as message `id`.
    Send {
        to: Jid,
        message: wa::Message,
    },
    /// Upload, then send the media message as message `id`.
    Upload {
        to: Jid,
        media: MediaToSend,
    },
    /// Edit our message `target` to `content`, as stanza `id`.
    Edit {
        to: Jid,
        target: String,
        content: wa::Message,
    },
    /// Delete someone else's group message as an admin.
    AdminRevoke {
        to: Jid,
        target: String,
        original_sender: Jid,
    },
    MarkRead {
        chat: Jid,
        sender: Option<Jid>,
        ids: Vec<String>,
    },
    ChatState {
        to: Jid,
        state: ChatStateType,
    },
}

/// A media send before its upload.
#[derive(Debug, Clone, PartialEq)]
struct MediaToSend {
    kind: MediaKind,
    data: Vec<u8>,
    mime: String,
    caption: Option<String>,
    file_name: Option<String>,
}

/// The pure half of [`perform`]: what `action` sends. `now_ms` stamps reactions.
fn plan(action: Outbound, known: Option<&KnownMessage>, now_ms: i64) -> Result<Plan, SendError> {
    Ok(match action {
        Outbound::Text { chat, text } => Plan::Send {
            to: parse_jid(&chat)?,
            message: wa::Message::text(text),
        },
        Outbound::Reply { chat, quoted, text } => {
            let to = parse_jid(&chat)?;
            let context = quote_context(&to, quoted, known);
            Plan::Send {
                to,
                message: wa::Message::text_with_context(text, context),
            }
        }
        Outbound::React { chat, target, emoji } => {
            let to = parse_jid(&chat)?;
            let key = target_key(&to, target, known);
            Plan::Send {
                to,
                message: build_reaction_message(key, emoji, now_ms),
            }
        }
        Outbound::Media {
            chat,
            kind,
            data,
            mime,
            caption,
            file_name,
        } => Plan::Upload {
            to: parse_jid(&chat)?,
            media: MediaToSend {
                kind,
                data,
                mime: if mime.trim().is_empty() {
                    default_mime(kind).to_string()
                } else {
                    mime
                },
                caption: caption.filter(|c| !c.is_empty()),
                file_name: file_name.filter(|f| !f.is_empty()),
            },
        },
        Outbound::Edit { chat, target, text } => Plan::Edit {
            to: parse_jid(&chat)?,
            target,
            content: wa::Message::text(text),
        },
        Outbound::Delete { chat, target } => {
            let to = parse_jid(&chat)?;
            match known {
                Some(known) if !known.from_me && to.is_group() => Plan::AdminRevoke {
                    to,
                    target,
                    original_sender: parse_jid(&known.sender)?,
                },
                _ => Plan::Send {
                    message: revoke_own(&to, target),
                    to,
                },
            }
        }
        Outbound::MarkRead { chat, sender, ids } => {
            let chat = parse_jid(&chat)?;
            let sender = if (chat.is_group() || chat.is_status_broadcast()) && !sender.is_empty() {
                Some(parse_jid(&sender)?)
            } else {
                None
            };
            Plan::MarkRead { chat, sender, ids }
        }
        Outbound::SetChatState { chat, state } => Plan::ChatState {
            to: parse_jid(&chat)?,
            state: match state {
                ChatState::Composing => ChatStateType::Composing,
                ChatState::Recording => ChatStateType::Recording,
                ChatState::Paused => ChatStateType::Paused,
            },
        },
    })
}

fn parse_jid(text: &str) -> Result<Jid, SendError> {
    text.parse::<Jid>()
        .map_err(|e| SendError::Failed(format!("invalid WhatsApp JID {text:?}: {e}")))
}

/// The quote of a reply to message `quoted` in `chat`.
fn quote_context(chat: &Jid, quoted: String, known: Option<&KnownMessage>) -> wa::ContextInfo {
    let participant = match known {
        Some(known) => Some(known.sender.clone()),
        None if !chat.is_group() => Some(chat.to_non_ad().to_string()),
        None => None,
    };
    wa::ContextInfo {
        stanza_id: Some(quoted),
        participant,
        ..Default::default()
    }
}

/// The key of message `target` in `chat`, as a reaction names it.
fn target_key(chat: &Jid, target: String, known: Option<&KnownMessage>) -> wa::MessageKey {
    let needs_participant = chat.is_group() || chat.is_status_broadcast();
    wa::MessageKey {
        remote_jid: Some(chat.to_string()),
        from_me: Some(known.is_some_and(|k| k.from_me)),
        id: Some(target),
        participant: known.filter(|_| needs_participant).map(|k| k.sender.clone()),
    }
}

/// Deleting our own message `target` for everyone (the crate's revoke shape).
fn revoke_own(chat: &Jid, target: String) -> wa::Message {
    wa::Message {
        protocol_message: MessageField::some(wa::message::ProtocolMessage {
            key: MessageField::some(wa::MessageKey {
                remote_jid: Some(chat.to_string()),
                from_me: Some(true),
                id: Some(target),
                participant: None,
            }),
            r#type: Some(wa::message::protocol_message::Type::REVOKE),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn media_type(kind: MediaKind) -> MediaType {
    match kind {
        MediaKind::Image => MediaType::Image,
        MediaKind::Video => MediaType::Video,
        MediaKind::Audio => MediaType::Audio,
        MediaKind::Document => MediaType::Document,
        MediaKind::Sticker => MediaType::Sticker,
    }
}

/// The CDN and crypto fields of an upload.
#[derive(Debug, Clone, PartialEq)]
struct Uploaded {
    url: String,
    direct_path: String,
    media_key: Vec<u8>,
    file_enc_sha256: Vec<u8>,
    file_sha256: Vec<u8>,
    file_length: u64,
    media_key_timestamp: i64,
    streaming_sidecar: Option<Vec<u8>>,
}

impl From<UploadResponse> for Uploaded {
    fn from(r: UploadResponse) -> Self {
        Uploaded {
            url: r.url,
            direct_path: r.direct_path,
            media_key: r.media_key.to_vec(),
            file_enc_sha256: r.file_enc_sha256.to_vec(),
            file_sha256: r.file_sha256.to_vec(),
            file_length: r.file_length,
            media_key_timestamp: r.media_key_timestamp,
            streaming_sidecar: r.streaming_sidecar,
        }
    }
}

/// The message that sends uploaded media.
fn media_message(media: &MediaToSend, up: Uploaded) -> wa::Message {
    let mime = Some(media.mime.clone());
    let caption = media.caption.clone();
    let mut message = wa::Message::default();
    match media.kind {
        MediaKind::Image => {
            message.image_message = MessageField::some(wa::message::ImageMessage {
                url: Some(up.url),
                direct_path: Some(up.direct_path),
                media_key: Some(up.media_key),
                file_sha256: Some(up.file_sha256),
                file_enc_sha256: Some(up.file_enc_sha256),
                file_length: Some(up.file_length),
                media_key_timestamp: Some(up.media_key_timestamp),
                mimetype: mime,
                caption,
                ..Default::default()
            })
        }
        MediaKind::Video => {
            message.video_message = MessageField::some(wa::message::VideoMessage {
                url: Some(up.url),
                direct_path: Some(up.direct_path),
                media_key: Some(up.media_key),
                file_sha256: Some(up.file_sha256),
                file_enc_sha256: Some(up.file_enc_sha256),
                file_length: Some(up.file_length),
                media_key_timestamp: Some(up.media_key_timestamp),
                streaming_sidecar: up.streaming_sidecar,
                mimetype: mime,
                caption,
                ..Default::default()
            })
        }
        MediaKind::Audio => {
            message.audio_message = MessageField::some(wa::message::AudioMessage {
                url: Some(up.url),
                direct_path: Some(up.direct_path),
                media_key: Some(up.media_key),
                file_sha256: Some(up.file_sha256),
                file_enc_sha256: Some(up.file_enc_sha256),
                file_length: Some(up.file_length),
                media_key_timestamp: Some(up.media_key_timestamp),
                streaming_sidecar: up.streaming_sidecar,
                mimetype: mime,
                ..Default::default()
            })
        }
        MediaKind::Document => {
            message.document_message = MessageField::some(wa::message::DocumentMessage {
                url: Some(up.url),
                direct_path: Some(up.direct_path),
                media_key: Some(up.media_key),
                file_sha256: Some(up.file_sha256),
                file_enc_sha256: Some(up.file_enc_sha256),
                file_length: Some(up.file_length),
                media_key_timestamp: Some(up.media_key_timestamp),
                mimetype: mime,
                title: media.file_name.clone(),
                file_name: media.file_name.clone(),
                caption,
                ..Default::default()
            })
        }
        MediaKind::Sticker => {
            message.sticker_message = MessageField::some(wa::message::StickerMessage {
                url: Some(up.url),
                direct_path: Some(up.direct_path),
                media_key: Some(up.media_key),
                file_sha256: Some(up.file_sha256),
                file_enc_sha256: Some(up.file_enc_sha256),
                file_length: Some(up.file_length),
                media_key_timestamp: Some(up.media_key_timestamp),
                mimetype: mime,
                ..Default::default()
            })
        }
    }
    message
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn client_error(e: ClientError) -> SendError {
    match e {
        ClientError::NotConnected | ClientError::NotLoggedIn => SendError::NotConnected,
        other => SendError::Failed(other.to_string()),
    }
}

fn send_error(e: whatsapp_rust::SendError) -> SendError {
    match e {
        whatsapp_rust::SendError::Client(e) => client_error(e),
        whatsapp_rust::SendError::NotLoggedIn => SendError::NotConnected,
        other => SendError::Failed(other.to_string()),
    }
}

fn anyhow_error(e: whatsapp_rust::anyhow::Error) -> SendError {
    match e.downcast::<ClientError>() {
        Ok(e) => client_error(e),
        Err(e) => SendError::Failed(format!("{e:#}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jid(s: &str) -> Jid {
        s.parse().unwrap()
    }

    const DM: &str = "15550001111@s.whatsapp.net";
    const GROUP: &str = "120363000000000001@g.us";

    #[test]
    fn message_ids_are_deterministic_distinct_and_shaped_like_whatsapp_ids() {
        let a = message_id("session/outbox/1");
        assert_eq!(a, message_id("session/outbox/1"));
        assert_ne!(a, message_id("session/outbox/2"));
        assert_ne!(message_id(""), message_id(" "));
        assert_eq!(a.len(), 22);
        assert!(a.starts_with("3EB0"));
        assert!(
            a[4..].chars().all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c)),
            "{a}"
        );
        // Pinned: a changed derivation would give every pending outbox entry a new id.
        let hash = Sha256::digest(b"purr/whatsapp/message-id\0k");
        assert_eq!(message_id("k"), format!("3EB0{}", hex::encode_upper(&hash[..9])));
    }

    #[test]
    fn text_is_a_conversation() {
        let plan = plan(
            Outbound::Text {
                chat: DM.into(),
                text: "hi".into(),
            },
            None,
            0,
        )
        .unwrap();
        assert_eq!(
            plan,
            Plan::Send {
                to: jid(DM),
                message: wa::Message {
                    conversation: Some("hi".into()),
                    ..Default::default()
                },
            }
        );
    }

    fn reply_context(plan: Plan) -> (String, wa::ContextInfo) {
        let Plan::Send { message, .. } = plan else {
            panic!("{plan:?}")
        };
        let ext = message
            .extended_text_message
            .as_option()
            .expect("extended text")
            .clone();
        (ext.text.unwrap(), ext.context_info.as_option().unwrap().clone())
    }

    #[test]
    fn reply_quotes_by_id_and_guesses_the_participant_only_in_direct_chats() {
        let reply = |chat: &str, known| {
            plan(
                Outbound::Reply {
                    chat: chat.into(),
                    quoted: "3EB0AA".into(),
                    text: "yes".into(),
                },
                known,
                0,
            )
            .unwrap()
        };
        let (text, ctx) = reply_context(reply(DM, None));
        assert_eq!(text, "yes");
        assert_eq!(
            ctx,
            wa::ContextInfo {
                stanza_id: Some("3EB0AA".into()),
                participant: Some(DM.into()),
                ..Default::default()
            }
        );
        let (_, ctx) = reply_context(reply(GROUP, None));
        assert_eq!(ctx.stanza_id.as_deref(), Some("3EB0AA"));
        assert_eq!(ctx.participant, None);
        let known = KnownMessage {
            sender: "15550002222@s.whatsapp.net".into(),
            from_me: false,
        };
        let (_, ctx) = reply_context(reply(GROUP, Some(&known)));
        assert_eq!(ctx.participant.as_deref(), Some("15550002222@s.whatsapp.net"));
        assert!(ctx.quoted_message.is_unset());
    }

    #[test]
    fn react_is_a_reaction_message_keyed_on_the_target() {
        let react = |chat: &str, known| {
            plan(
                Outbound::React {
                    chat: chat.into(),
                    target: "T1".into(),
                    emoji: "👍".into(),
                },
                known,
                1234,
            )
            .unwrap()
        };
        let expected = |chat: &str, from_me, participant: Option<&str>| Plan::Send {
            to: jid(chat),
            message: wa::Message {
                reaction_message: MessageField::some(wa::message::ReactionMessage {
                    key: MessageField::some(wa::MessageKey {
                        remote_jid: Some(chat.into()),
                        from_me: Some(from_me),
                        id: Some("T1".into()),
                        participant: participant.map(Into::into),
                    }),
                    text: Some("👍".into()),
                    sender_timestamp_ms: Some(1234),
                    ..Default::default()
                }),
                ..Default::default()
            },
        };
        assert_eq!(react(DM, None), expected(DM, false, None));
        let theirs = KnownMessage {
            sender: "15550002222@s.whatsapp.net".into(),
            from_me: false,
        };
        assert_eq!(
            react(GROUP, Some(&theirs)),
            expected(GROUP, false, Some("15550002222@s.whatsapp.net"))
        );
        let mine = KnownMessage {
            sender: "15550003333@s.whatsapp.net".into(),
            from_me: true,
        };
        assert_eq!(react(DM, Some(&mine)), expected(DM, true, None));
    }

    #[test]
    fn edit_replaces_the_text_of_the_target() {
        let plan = plan(
            Outbound::Edit {
                chat: DM.into(),
                target: "T1".into(),
                text: "fixed".into(),
            },
            None,
            0,
        )
        .unwrap();
        assert_eq!(
            plan,
            Plan::Edit {
                to: jid(DM),
                target: "T1".into(),
                content: wa::Message::text("fixed")
            }
        );
    }

    #[test]
    fn delete_revokes_our_message_or_as_admin_someone_elses() {
        let delete = |chat: &str, known| {
            plan(
                Outbound::Delete {
                    chat: chat.into(),
                    target: "T1".into(),
                },
                known,
                0,
            )
            .unwrap()
        };
        let Plan::Send { to, message } = delete(GROUP, None) else {
            panic!()
        };
        assert_eq!(to, jid(GROUP));
        let protocol = message.protocol_message.as_option().unwrap();
        assert_eq!(protocol.r#type, Some(wa::message::protocol_message::Type::REVOKE));
        assert_eq!(
            protocol.key.as_option().unwrap(),
            &wa::MessageKey {
                remote_jid: Some(GROUP.into()),
                from_me: Some(true),
                id: Some("T1".into()),
                participant: None,
            }
        );
        let theirs = KnownMessage {
            sender: "15550002222@s.whatsapp.net".into(),
            from_me: false,
        };
        assert_eq!(
            delete(GROUP, Some(&theirs)),
            Plan::AdminRevoke {
                to: jid(GROUP),
                target: "T1".into(),
                original_sender: jid("15550002222@s.whatsapp.net"),
            }
        );
        // In a direct chat only our own messages can be deleted for everyone.
        assert!(matches!(delete(DM, Some(&theirs)), Plan::Send { .. }));
    }

    #[test]
    fn mark_read_names_the_sender_only_in_groups() {
        let read = |chat: &str| {
            plan(
                Outbound::MarkRead {
                    chat: chat.into(),
                    sender: "15550002222@s.whatsapp.net".into(),
                    ids: vec!["A".into(), "B".into()],
                },
                None,
                0,
            )
            .unwrap()
        };
        assert_eq!(
            read(DM),
            Plan::MarkRead {
                chat: jid(DM),
                sender: None,
                ids: vec!["A".into(), "B".into()]
            }
        );
        assert_eq!(
            read(GROUP),
            Plan::MarkRead {
                chat: jid(GROUP),
                sender: Some(jid("15550002222@s.whatsapp.net")),
                ids: vec!["A".into(), "B".into()],
            }
        );
    }

    #[test]
    fn chat_states_map_one_to_one() {
        for (state, expected) in [
            (ChatState::Composing, ChatStateType::Composing),
            (ChatState::Recording, ChatStateType::Recording),
            (ChatState::Paused, ChatStateType::Paused),
        ] {
            assert_eq!(
                plan(Outbound::SetChatState { chat: DM.into(), state }, None, 0).unwrap(),
                Plan::ChatState {
                    to: jid(DM),
                    state: expected
                }
            );
        }
    }

    #[test]
    fn an_invalid_jid_fails_before_the_network() {
        let err = plan(
            Outbound::Text {
                chat: "not a jid@@".into(),
                text: "x".into(),
            },
            None,
            0,
        );
        assert!(matches!(err, Err(SendError::Failed(_))), "{err:?}");
    }

    fn uploaded() -> Uploaded {
        Uploaded {
            url: "https://mmg.whatsapp.net/x".into(),
            direct_path: "/v/t62/x".into(),
            media_key: vec![1; 32],
            file_enc_sha256: vec![2; 32],
            file_sha256: vec![3; 32],
            file_length: 4096,
            media_key_timestamp: 1_700_000_000,
            streaming_sidecar: Some(vec![9]),
        }
    }

    fn media_plan(kind: MediaKind, mime: &str, caption: Option<&str>, file_name: Option<&str>) -> MediaToSend {
        let plan = plan(
            Outbound::Media {
                chat: DM.into(),
                kind,
                data: vec![7; 10],
                mime: mime.into(),
                caption: caption.map(Into::into),
                file_name: file_name.map(Into::into),
            },
            None,
            0,
        )
        .unwrap();
        let Plan::Upload { to, media } = plan else {
            panic!("{plan:?}")
        };
        assert_eq!(to, jid(DM));
        assert_eq!(media.data, vec![7; 10]);
        media
    }

    #[test]
    fn image_with_caption() {
        let media = media_plan(MediaKind::Image, "image/png", Some("look"), None);
        let m = media_message(&media, uploaded());
        assert_eq!(
            m,
            wa::Message {
                image_message: MessageField::some(wa::message::ImageMessage {
                    url: Some("https://mmg.whatsapp.net/x".into()),
                    direct_path: Some("/v/t62/x".into()),
                    media_key: Some(vec![1; 32]),
                    file_sha256: Some(vec![3; 32]),
                    file_enc_sha256: Some(vec![2; 32]),
                    file_length: Some(4096),
                    media_key_timestamp: Some(1_700_000_000),
                    mimetype: Some("image/png".into()),
                    caption: Some("look".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }
        );
        assert_eq!(media_type(media.kind), MediaType::Image);
    }

    #[test]
    fn video_audio_document_and_sticker() {
        let video = media_message(
            &media_plan(MediaKind::Video, "video/mp4", Some("clip"), None),
            uploaded(),
        );
        let v = video.video_message.as_option().unwrap();
        assert_eq!(
            (
                v.mimetype.as_deref(),
                v.caption.as_deref(),
                v.streaming_sidecar.as_deref(),
                v.file_length
            ),
            (Some("video/mp4"), Some("clip"), Some(&[9u8][..]), Some(4096))
        );

        let audio = media_message(&media_plan(MediaKind::Audio, "audio/mpeg", None, None), uploaded());
        let a = audio.audio_message.as_option().unwrap();
        assert_eq!(
            (a.mimetype.as_deref(), a.direct_path.as_deref()),
            (Some("audio/mpeg"), Some("/v/t62/x"))
        );

        let doc = media_message(
            &media_plan(MediaKind::Document, "application/pdf", Some("read me"), Some("a.pdf")),
            uploaded(),
        );
        let d = doc.document_message.as_option().unwrap();
        assert_eq!(
            (
                d.mimetype.as_deref(),
                d.file_name.as_deref(),
                d.title.as_deref(),
                d.caption.as_deref()
            ),
            (Some("application/pdf"), Some("a.pdf"), Some("a.pdf"), Some("read me"))
        );
        assert_eq!(d.media_key.as_deref(), Some(&[1u8; 32][..]));

        // An empty MIME type gets the kind's default.
        let sticker_media = media_plan(MediaKind::Sticker, "", None, None);
        assert_eq!(sticker_media.mime, "image/webp");
        let sticker = media_message(&sticker_media, uploaded());
        let s = sticker.sticker_message.as_option().unwrap();
        assert_eq!(
            (s.mimetype.as_deref(), s.file_enc_sha256.as_deref()),
            (Some("image/webp"), Some(&[2u8; 32][..]))
        );
        for m in [&video, &audio, &doc, &sticker] {
            assert!(m.image_message.is_unset());
        }
    }

    #[test]
    fn download_params_come_back_from_a_handle() {
        let handle = MediaRef {
            kind: "document".into(),
            direct_path: "/v/t62/doc".into(),
            media_key: hex::encode([1u8; 32]),
            file_sha256: hex::encode([3u8; 32]),
            file_enc_sha256: hex::encode([2u8; 32]),
            length: 77,
        }
        .encode();
        let p = download_params(&handle).unwrap();
        assert_eq!(p.direct_path, "/v/t62/doc");
        assert_eq!(p.media_key.as_deref(), Some(&[1u8; 32][..]));
        assert_eq!(p.file_sha256, vec![3u8; 32]);
        assert_eq!(p.file_enc_sha256.as_deref(), Some(&[2u8; 32][..]));
        assert_eq!(p.file_length, 77);
        assert_eq!(p.media_type, MediaType::Document);

        assert!(matches!(download_params("sim:1"), Err(SendError::Failed(_))));
        assert!(matches!(download_params("wa1:!!!"), Err(SendError::Failed(_))));
        let keyless = MediaRef {
            kind: "image".into(),
            direct_path: "/p".into(),
            media_key: String::new(),
            file_sha256: "00".into(),
            file_enc_sha256: "00".into(),
            length: 1,
        };
        assert!(matches!(download_params(&keyless.encode()), Err(SendError::Failed(m)) if m.contains("media key")));
    }

    #[test]
    fn a_direct_path_that_leaves_the_media_host_is_refused() {
        let handle = |direct_path: &str| MediaRef {
            kind: "image".into(),
            direct_path: direct_path.into(),
            media_key: "01".into(),
            file_sha256: "02".into(),
            file_enc_sha256: "03".into(),
            length: 1,
        };
        assert!(download_params(&handle("/v/t62.7118-24/1_2?ccb=11-4&oh=abc").encode()).is_ok());
        for crafted in [
            "@other.example/x",
            "//other.example/x",
            "https://other.example/x",
            "v/t62/x",
            "/v/t62/x@other.example",
            "/v\\..\\x",
            "/v/t62/x\r\nHost: other.example",
            "/v/t62 /x",
        ] {
            let refused = download_params(&handle(crafted).encode()).err();
            assert!(
                matches!(&refused, Some(SendError::Failed(m)) if m.contains("invalid direct path")),
                "{crafted:?}: {refused:?}"
            );
        }
    }

    #[test]
    fn client_errors_map_to_not_connected_or_failed() {
        assert_eq!(
            send_error(whatsapp_rust::SendError::Client(ClientError::NotConnected)),
            SendError::NotConnected
        );
        assert_eq!(
            send_error(whatsapp_rust::SendError::NotLoggedIn),
            SendError::NotConnected
        );
        assert_eq!(
            send_error(whatsapp_rust::SendError::InvalidRequest("bad".into())),
            SendError::Failed("invalid send request: bad".into())
        );
        assert_eq!(anyhow_error(ClientError::NotConnected.into()), SendError::NotConnected);
        assert!(matches!(anyhow_error(whatsapp_rust::anyhow::anyhow!("boom")), SendError::Failed(m) if m == "boom"));
    }
}
