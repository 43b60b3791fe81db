//! `inbound::map_event` on real whatsapp-rust events: every content kind and
//! every status event, asserted as the exact `ChannelEvent`s.

use std::sync::Arc;
use std::time::Duration;

use whatsapp_rust::chrono::{DateTime, Utc};
use whatsapp_rust::types::events::{
    BatchOrigin, ChatPresenceUpdate, ClientOutdated, ConnectFailure, ConnectFailureReason, Connected, Disconnected,
    Event, GroupUpdate as WaGroupUpdate, InboundMessage as WaInbound, LoggedOut, LogoutMessage, MessageBatch,
    OfflineSyncCompleted, PairingCode, PairingQrCode, PairingQrCodesExhausted, PresenceUpdate, Receipt as WaReceipt,
    StreamError, StreamReplaced, TempBanReason, TemporaryBan,
};
use whatsapp_rust::types::message::{MessageInfo, MessageSource};
use whatsapp_rust::types::presence::{ChatPresence, ChatPresenceMedia, ReceiptType};
use whatsapp_rust::wacore::net::DisconnectReason;
use whatsapp_rust::wacore::stanza::groups::{GroupNotificationAction, GroupParticipantInfo};
use whatsapp_rust::waproto::buffa::MessageField;
use whatsapp_rust::waproto::whatsapp as wa;

use super::{MediaRef, map_event};
use crate::channel::{
    ChannelEvent, ChatState, ChatStateUpdate, Content, GroupChange, GroupUpdate, InboundMessage, Media, MediaKind,
    Presence, Receipt, ReceiptKind,
};

const PEER: &str = "15550001111@s.whatsapp.net";
const ME: &str = "15550009999@s.whatsapp.net";
const GROUP: &str = "120363000000000001@g.us";
const TS_MS: i64 = 1_700_000_000_000;

fn jid(s: &str) -> whatsapp_rust::Jid {
    s.parse().unwrap()
}

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap()
}

fn info(id: &str) -> MessageInfo {
    MessageInfo {
        source: MessageSource {
            chat: jid(PEER),
            sender: jid(PEER),
            ..Default::default()
        },
        id: id.to_string(),
        push_name: "Ann".to_string(),
        timestamp: at(TS_MS),
        ..Default::default()
    }
}

fn batch(messages: Vec<(MessageInfo, wa::Message)>) -> Event {
    let messages: Vec<WaInbound> = messages
        .into_iter()
        .map(|(info, message)| {
            WaInbound::builder()
                .message(Arc::new(message))
                .info(Arc::new(info))
                .build()
        })
        .collect();
    Event::Messages(
        MessageBatch::builder()
            .messages(messages.into())
            .origin(BatchOrigin::Live)
            .build(),
    )
}

/// The message one protocol message maps to, from a direct chat with PEER.
fn expected(id: &str, content: Content) -> InboundMessage {
    InboundMessage {
        id: id.to_string(),
        chat: PEER.to_string(),
        sender: PEER.to_string(),
        from_me: false,
        timestamp_ms: TS_MS as u64,
        push_name: Some("Ann".to_string()),
        is_group: false,
        quoted_id: None,
        content,
    }
}

/// The content of one direct message.
fn content_of(message: wa::Message) -> Option<Content> {
    match map_event(&batch(vec![(info("M1"), message)]), Some(ME)).as_slice() {
        [] => None,
        [ChannelEvent::Message(m)] => Some(m.content.clone()),
        other => panic!("unexpected {other:?}"),
    }
}

fn text(t: &str) -> wa::Message {
    wa::Message {
        conversation: Some(t.to_string()),
        ..Default::default()
    }
}

fn future_proof(inner: wa::Message) -> MessageField<wa::message::FutureProofMessage> {
    MessageField::some(wa::message::FutureProofMessage {
        message: MessageField::some(inner),
    })
}

fn quote(id: &str) -> MessageField<wa::ContextInfo> {
    MessageField::some(wa::ContextInfo {
        stanza_id: Some(id.to_string()),
        participant: Some(ME.to_string()),
        ..Default::default()
    })
}

#[test]
fn a_text_message_maps_every_field() {
    let events = map_event(&batch(vec![(info("M1"), text("hello"))]), Some(ME));
    assert_eq!(
        events,
        vec![ChannelEvent::Message(expected("M1", Content::Text("hello".into())))]
    );
}

#[test]
fn a_group_message_from_a_linked_device_names_the_person_and_the_quote() {
    let mut group_info = info("G1");
    group_info.source = MessageSource {
        chat: jid(GROUP),
        sender: jid("15550002222:3@s.whatsapp.net"),
        is_group: true,
        ..Default::default()
    };
    group_info.push_name = String::new();
    let reply = wa::Message {
        extended_text_message: MessageField::some(wa::message::ExtendedTextMessage {
            text: Some("agreed".into()),
            context_info: quote("Q1"),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut own = info("O1");
    own.source.is_from_me = true;
    own.source.sender = jid(ME);
    let events = map_event(&batch(vec![(group_info, reply), (own, text("mine"))]), Some(ME));
    assert_eq!(
        events,
        vec![
            ChannelEvent::Message(InboundMessage {
                id: "G1".into(),
                chat: GROUP.into(),
                sender: "15550002222@s.whatsapp.net".into(),
                from_me: false,
                timestamp_ms: TS_MS as u64,
                push_name: None,
                is_group: true,
                quoted_id: Some("Q1".into()),
                content: Content::Text("agreed".into()),
            }),
            ChannelEvent::Message(InboundMessage {
                sender: ME.into(),
                from_me: true,
                ..expected("O1", Content::Text("mine".into()))
            }),
        ]
    );
}

#[test]
fn extended_text_with_a_link_preview() {
    let m = wa::Message {
        extended_text_message: MessageField::some(wa::message::ExtendedTextMessage {
            text: Some("see https://example.com".into()),
            matched_text: Some("https://example.com".into()),
            title: Some("Example".into()),
            description: Some("An example".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        content_of(m),
        Some(Content::ExtendedText {
            text: "see https://example.com".into(),
            preview_url: Some("https://example.com".into()),
            preview_title: Some("Example".into()),
        })
    );
}

fn media_ref(handle: &str) -> MediaRef {
    MediaRef::decode(handle).unwrap()
}

#[test]
fn image_with_caption_and_a_handle_that_round_trips() {
    let m = wa::Message {
        image_message: MessageField::some(wa::message::ImageMessage {
            url: Some("https://mmg.whatsapp.net/x".into()),
            direct_path: Some("/v/t62.7118-24/1_2?ccb=11-4&oh=abc&oe=DEF".into()),
            media_key: Some(vec![1; 32]),
            file_sha256: Some(vec![3; 32]),
            file_enc_sha256: Some(vec![2; 32]),
            file_length: Some(54_321),
            mimetype: Some("image/png".into()),
            caption: Some("look".into()),
            context_info: quote("Q9"),
            ..Default::default()
        }),
        ..Default::default()
    };
    let events = map_event(&batch(vec![(info("M1"), m)]), None);
    let [ChannelEvent::Message(msg)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(msg.quoted_id.as_deref(), Some("Q9"));
    let Content::Media(MediaKind::Image, media) = &msg.content else {
        panic!("{:?}", msg.content)
    };
    assert!(media.handle.starts_with("wa1:"), "{}", media.handle);
    assert!(
        media.handle[4..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{}",
        media.handle
    );
    assert_eq!(
        media,
        &Media {
            handle: media.handle.clone(),
            mime: "image/png".into(),
            size: 54_321,
            caption: Some("look".into()),
            file_name: None,
            seconds: None,
        }
    );
    assert_eq!(
        media_ref(&media.handle),
        MediaRef {
            kind: "image".into(),
            direct_path: "/v/t62.7118-24/1_2?ccb=11-4&oh=abc&oe=DEF".into(),
            media_key: hex::encode([1u8; 32]),
            file_sha256: hex::encode([3u8; 32]),
            file_enc_sha256: hex::encode([2u8; 32]),
            length: 54_321,
        }
    );
    // Same media, same handle.
    assert_eq!(media_ref(&media.handle).encode(), media.handle);
}

fn video(seconds: u32) -> wa::message::VideoMessage {
    wa::message::VideoMessage {
        direct_path: Some("/v".into()),
        media_key: Some(vec![5; 32]),
        file_sha256: Some(vec![6; 32]),
        file_enc_sha256: Some(vec![7; 32]),
        file_length: Some(1000),
        seconds: Some(seconds),
        caption: Some("clip".into()),
        ..Default::default()
    }
}

/// The media of a content, with its handle checked against `kind` and replaced by "".
fn media_of(content: Option<Content>, kind: MediaKind) -> Media {
    let Some(Content::Media(k, mut media)) = content else {
        panic!("{content:?}")
    };
    assert_eq!(k, kind);
    assert_eq!(media_ref(&media.handle).kind, super::kind_name(kind));
    media.handle = String::new();
    media
}

#[test]
fn video_and_video_note() {
    let m = wa::Message {
        video_message: MessageField::some(video(12)),
        ..Default::default()
    };
    let expected = Media {
        handle: String::new(),
        mime: "video/mp4".into(),
        size: 1000,
        caption: Some("clip".into()),
        file_name: None,
        seconds: Some(12),
    };
    assert_eq!(media_of(content_of(m), MediaKind::Video), expected);
    let ptv = wa::Message {
        ptv_message: MessageField::some(video(3)),
        ..Default::default()
    };
    assert_eq!(
        media_of(content_of(ptv), MediaKind::Video),
        Media {
            seconds: Some(3),
            ..expected
        }
    );
}

#[test]
fn audio() {
    let m = wa::Message {
        audio_message: MessageField::some(wa::message::AudioMessage {
            direct_path: Some("/a".into()),
            media_key: Some(vec![1; 32]),
            file_sha256: Some(vec![1; 32]),
            file_enc_sha256: Some(vec![1; 32]),
            file_length: Some(2048),
            seconds: Some(7),
            ptt: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        media_of(content_of(m), MediaKind::Audio),
        Media {
            handle: String::new(),
            mime: "audio/ogg; codecs=opus".into(),
            size: 2048,
            caption: None,
            file_name: None,
            seconds: Some(7),
        }
    );
}

#[test]
fn document_inside_its_caption_wrapper() {
    let doc = wa::Message {
        document_message: MessageField::some(wa::message::DocumentMessage {
            direct_path: Some("/d".into()),
            media_key: Some(vec![1; 32]),
            file_sha256: Some(vec![1; 32]),
            file_enc_sha256: Some(vec![1; 32]),
            file_length: Some(99),
            mimetype: Some("application/pdf".into()),
            file_name: Some("report.pdf".into()),
            caption: Some("Q3".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let wrapped = wa::Message {
        document_with_caption_message: future_proof(doc),
        ..Default::default()
    };
    assert_eq!(
        media_of(content_of(wrapped), MediaKind::Document),
        Media {
            handle: String::new(),
            mime: "application/pdf".into(),
            size: 99,
            caption: Some("Q3".into()),
            file_name: Some("report.pdf".into()),
            seconds: None,
        }
    );
}

#[test]
fn sticker() {
    let m = wa::Message {
        sticker_message: MessageField::some(wa::message::StickerMessage {
            direct_path: Some("/s".into()),
            media_key: Some(vec![1; 32]),
            file_sha256: Some(vec![1; 32]),
            file_enc_sha256: Some(vec![1; 32]),
            file_length: Some(300),
            mimetype: Some("image/webp".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        media_of(content_of(m), MediaKind::Sticker),
        Media {
            handle: String::new(),
            mime: "image/webp".into(),
            size: 300,
            caption: None,
            file_name: None,
            seconds: None,
        }
    );
}

#[test]
fn location_live_location_and_contact() {
    let loc = wa::Message {
        location_message: MessageField::some(wa::message::LocationMessage {
            degrees_latitude: Some(52.52),
            degrees_longitude: Some(13.405),
            name: Some("Berlin".into()),
            address: Some("Mitte".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        content_of(loc),
        Some(Content::Location {
            latitude: 52.52,
            longitude: 13.405,
            name: Some("Berlin".into()),
            address: Some("Mitte".into()),
        })
    );
    let live = wa::Message {
        live_location_message: MessageField::some(wa::message::LiveLocationMessage {
            degrees_latitude: Some(1.5),
            degrees_longitude: Some(-2.5),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        content_of(live),
        Some(Content::Location {
            latitude: 1.5,
            longitude: -2.5,
            name: None,
            address: None,
        })
    );
    let contact = wa::Message {
        contact_message: MessageField::some(wa::message::ContactMessage {
            display_name: Some("Bob".into()),
            vcard: Some("BEGIN:VCARD\nFN:Bob\nEND:VCARD".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        content_of(contact),
        Some(Content::Contact {
            display_name: "Bob".into(),
            vcard: "BEGIN:VCARD\nFN:Bob\nEND:VCARD".into(),
        })
    );
}

#[test]
fn reaction_and_its_removal() {
    let reaction = |emoji: &str| wa::Message {
        reaction_message: MessageField::some(wa::message::ReactionMessage {
            key: MessageField::some(wa::MessageKey {
                remote_jid: Some(PEER.into()),
                from_me: Some(true),
                id: Some("T1".into()),
                participant: None,
            }),
            text: Some(emoji.into()),
            sender_timestamp_ms: Some(TS_MS),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        content_of(reaction("❤️")),
        Some(Content::Reaction {
            target_id: "T1".into(),
            emoji: "❤️".into()
        })
    );
    assert_eq!(
        content_of(reaction("")),
        Some(Content::Reaction {
            target_id: "T1".into(),
            emoji: String::new()
        })
    );
}

#[test]
fn wrappers_are_unwrapped() {
    let ephemeral = wa::Message {
        ephemeral_message: future_proof(text("gone soon")),
        ..Default::default()
    };
    assert_eq!(content_of(ephemeral), Some(Content::Text("gone soon".into())));

    let view_once_image = wa::Message {
        view_once_message_v2: future_proof(wa::Message {
            image_message: MessageField::some(wa::message::ImageMessage {
                file_length: Some(5),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(media_of(content_of(view_once_image), MediaKind::Image).size, 5);

    let edited = wa::Message {
        edited_message: future_proof(text("v2")),
        ..Default::default()
    };
    assert_eq!(content_of(edited), Some(Content::Text("v2".into())));

    let device_sent = wa::Message {
        device_sent_message: MessageField::some(wa::message::DeviceSentMessage {
            destination_jid: Some(PEER.into()),
            message: MessageField::some(wa::Message {
                ephemeral_message: future_proof(text("from my phone")),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(content_of(device_sent), Some(Content::Text("from my phone".into())));

    let album_child = wa::Message {
        associated_child_message: future_proof(wa::Message {
            image_message: MessageField::some(wa::message::ImageMessage {
                caption: Some("1 of 3".into()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        media_of(content_of(album_child), MediaKind::Image).caption.as_deref(),
        Some("1 of 3")
    );
}

fn protocol(kind: wa::message::protocol_message::Type) -> wa::Message {
    wa::Message {
        protocol_message: MessageField::some(wa::message::ProtocolMessage {
            key: MessageField::some(wa::MessageKey {
                id: Some("T1".into()),
                ..Default::default()
            }),
            r#type: Some(kind),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn revokes_and_edits_are_unknown_and_protocol_plumbing_is_dropped() {
    use wa::message::protocol_message::Type;
    assert_eq!(
        content_of(protocol(Type::REVOKE)),
        Some(Content::Unknown("revoke".into()))
    );
    assert_eq!(
        content_of(protocol(Type::MESSAGE_EDIT)),
        Some(Content::Unknown("edit".into()))
    );
    assert_eq!(content_of(protocol(Type::APP_STATE_SYNC_KEY_SHARE)), None);
    assert_eq!(content_of(protocol(Type::HISTORY_SYNC_NOTIFICATION)), None);
    assert_eq!(content_of(protocol(Type::EPHEMERAL_SETTING)), None);
    // A dropped message leaves the rest of its batch alone.
    let events = map_event(
        &batch(vec![
            (info("A"), text("one")),
            (info("B"), protocol(Type::APP_STATE_SYNC_KEY_SHARE)),
            (info("C"), text("two")),
        ]),
        None,
    );
    let ids: Vec<&str> = events
        .iter()
        .map(|e| match e {
            ChannelEvent::Message(m) => m.id.as_str(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ids, ["A", "C"]);
}

#[test]
fn other_content_is_unknown_by_name() {
    let poll = wa::Message {
        poll_creation_message_v3: MessageField::some(Default::default()),
        ..Default::default()
    };
    assert_eq!(content_of(poll), Some(Content::Unknown("poll".into())));
    let list = wa::Message {
        list_message: MessageField::some(Default::default()),
        ..Default::default()
    };
    assert_eq!(content_of(list), Some(Content::Unknown("list".into())));
    let contacts = wa::Message {
        contacts_array_message: MessageField::some(Default::default()),
        ..Default::default()
    };
    assert_eq!(content_of(contacts), Some(Content::Unknown("contact_array".into())));
    let invite = wa::Message {
        group_invite_message: MessageField::some(Default::default()),
        ..Default::default()
    };
    assert_eq!(content_of(invite), Some(Content::Unknown("group_invite".into())));
    assert_eq!(
        content_of(wa::Message::default()),
        Some(Content::Unknown("unknown".into()))
    );
}

fn source(chat: &str, sender: &str) -> MessageSource {
    MessageSource {
        chat: jid(chat),
        sender: jid(sender),
        is_group: chat.ends_with("@g.us"),
        ..Default::default()
    }
}

#[test]
fn receipts() {
    let receipt = |kind: ReceiptType| {
        Event::Receipt(
            WaReceipt::builder()
                .source(source(GROUP, "15550002222:2@s.whatsapp.net"))
                .message_ids(vec!["A".into(), "B".into()])
                .timestamp(at(TS_MS))
                .r#type(kind)
                .offline(false)
                .build(),
        )
    };
    for (wire, kind) in [
        (ReceiptType::Delivered, ReceiptKind::Delivered),
        (ReceiptType::Read, ReceiptKind::Read),
        (ReceiptType::Played, ReceiptKind::Played),
        (ReceiptType::Retry, ReceiptKind::Retry),
    ] {
        assert_eq!(
            map_event(&receipt(wire), Some(ME)),
            vec![ChannelEvent::Receipt(Receipt {
                chat: GROUP.into(),
                sender: "15550002222@s.whatsapp.net".into(),
                message_ids: vec!["A".into(), "B".into()],
                kind,
                timestamp_ms: TS_MS as u64,
            })]
        );
    }
    for ignored in [
        ReceiptType::ReadSelf,
        ReceiptType::PlayedSelf,
        ReceiptType::Sender,
        ReceiptType::Inactive,
        ReceiptType::ServerError,
        ReceiptType::Other("x".into()),
    ] {
        assert_eq!(map_event(&receipt(ignored), Some(ME)), vec![]);
    }
}

#[test]
fn presence_and_chat_states() {
    let online = PresenceUpdate::builder().from(jid(PEER)).unavailable(false).build();
    assert_eq!(
        map_event(&Event::Presence(online), None),
        vec![ChannelEvent::Presence(Presence {
            sender: PEER.into(),
            available: true,
            last_seen_ms: None,
        })]
    );
    let away = PresenceUpdate::builder()
        .from(jid(PEER))
        .unavailable(true)
        .last_seen(at(TS_MS))
        .build();
    assert_eq!(
        map_event(&Event::Presence(away), None),
        vec![ChannelEvent::Presence(Presence {
            sender: PEER.into(),
            available: false,
            last_seen_ms: Some(TS_MS as u64),
        })]
    );
    for (state, media, expected) in [
        (ChatPresence::Composing, ChatPresenceMedia::Text, ChatState::Composing),
        (ChatPresence::Composing, ChatPresenceMedia::Audio, ChatState::Recording),
        (ChatPresence::Paused, ChatPresenceMedia::Text, ChatState::Paused),
    ] {
        let event = Event::ChatPresence(
            ChatPresenceUpdate::builder()
                .source(source(GROUP, "15550002222@s.whatsapp.net"))
                .state(state)
                .media(media)
                .build(),
        );
        assert_eq!(
            map_event(&event, None),
            vec![ChannelEvent::ChatState(ChatStateUpdate {
                chat: GROUP.into(),
                sender: "15550002222@s.whatsapp.net".into(),
                state: expected,
            })]
        );
    }
}

fn participant(j: &str) -> GroupParticipantInfo {
    GroupParticipantInfo {
        jid: jid(j),
        phone_number: None,
        display_name: None,
        r#type: None,
        lid: None,
        username: None,
        join_time: None,
        group_history_sent_state: None,
    }
}

#[test]
fn group_updates() {
    let a = "15550002222@s.whatsapp.net";
    let b = "15550003333@s.whatsapp.net";
    let update = |action: GroupNotificationAction| {
        let event = Event::GroupUpdate(
            WaGroupUpdate::builder()
                .group_jid(jid(GROUP))
                .participant(jid(ME))
                .timestamp(at(TS_MS))
                .is_lid_addressing_mode(false)
                .action(action)
                .build(),
        );
        match map_event(&event, Some(ME)).as_slice() {
            [ChannelEvent::GroupUpdate(u)] => {
                assert_eq!((u.group.as_str(), u.author.as_deref()), (GROUP, Some(ME)));
                assert_eq!(u.timestamp_ms, TS_MS as u64);
                u.change.clone()
            }
            other => panic!("{other:?}"),
        }
    };
    let both = || vec![participant(a), participant(b)];
    let both_ids = vec![a.to_string(), b.to_string()];
    assert_eq!(
        update(GroupNotificationAction::Add {
            participants: both(),
            reason: None
        }),
        GroupChange::Added(both_ids.clone())
    );
    assert_eq!(
        update(GroupNotificationAction::Remove {
            participants: both(),
            reason: None
        }),
        GroupChange::Removed(both_ids.clone())
    );
    assert_eq!(
        update(GroupNotificationAction::Promote { participants: both() }),
        GroupChange::Promoted(both_ids.clone())
    );
    assert_eq!(
        update(GroupNotificationAction::Demote { participants: both() }),
        GroupChange::Demoted(both_ids)
    );
    assert_eq!(
        update(GroupNotificationAction::Subject {
            subject: "Team".into(),
            subject_owner: None,
            subject_time: None
        }),
        GroupChange::Subject("Team".into())
    );
    assert_eq!(
        update(GroupNotificationAction::Description {
            id: "d1".into(),
            description: Some("About us".into())
        }),
        GroupChange::Description("About us".into())
    );
    assert_eq!(
        update(GroupNotificationAction::Description {
            id: "d2".into(),
            description: None
        }),
        GroupChange::Description(String::new())
    );
    assert_eq!(
        update(GroupNotificationAction::Announce),
        GroupChange::AnnounceOnly(true)
    );
    assert_eq!(
        update(GroupNotificationAction::NotAnnounce),
        GroupChange::AnnounceOnly(false)
    );
    assert_eq!(
        update(GroupNotificationAction::Locked { threshold: None }),
        GroupChange::Locked(true)
    );
    assert_eq!(update(GroupNotificationAction::Unlocked), GroupChange::Locked(false));
    assert_eq!(
        update(GroupNotificationAction::Ephemeral {
            expiration: 86_400,
            trigger: None
        }),
        GroupChange::Other("ephemeral".into())
    );
    assert_eq!(
        update(GroupNotificationAction::Invite { code: "x".into() }),
        GroupChange::Other("invite".into())
    );

    let anonymous = Event::GroupUpdate(
        WaGroupUpdate::builder()
            .group_jid(jid(GROUP))
            .timestamp(at(TS_MS))
            .is_lid_addressing_mode(false)
            .action(GroupNotificationAction::Unlocked)
            .build(),
    );
    assert_eq!(
        map_event(&anonymous, None),
        vec![ChannelEvent::GroupUpdate(GroupUpdate {
            group: GROUP.into(),
            author: None,
            change: GroupChange::Locked(false),
            timestamp_ms: TS_MS as u64,
        })]
    );
}

#[test]
fn pairing_and_connection_status() {
    let qr = PairingQrCode::builder()
        .code("2@abc,def".into())
        .timeout(Duration::from_secs(60))
        .build();
    assert_eq!(
        map_event(&Event::PairingQrCode(qr), None),
        vec![ChannelEvent::Qr {
            code: "2@abc,def".into(),
            expires_in_ms: 60_000
        }]
    );
    let code = PairingCode::builder()
        .code("ABCD-EFGH".into())
        .timeout(Duration::from_secs(180))
        .build();
    assert_eq!(
        map_event(&Event::PairingCode(code), None),
        vec![ChannelEvent::PairCode("ABCD-EFGH".into())]
    );
    assert_eq!(
        map_event(&Event::Connected(Connected::builder().build()), Some(ME)),
        vec![ChannelEvent::Connected { jid: ME.into() }]
    );
    assert_eq!(
        map_event(
            &Event::Connected(Connected::builder().build()),
            Some("15550009999:12@s.whatsapp.net")
        ),
        vec![ChannelEvent::Connected { jid: ME.into() }]
    );
    assert_eq!(
        map_event(&Event::Connected(Connected::builder().build()), None),
        vec![ChannelEvent::Connected { jid: String::new() }]
    );
    let dropped = Disconnected::builder().reason(DisconnectReason::StreamEnded).build();
    assert_eq!(
        map_event(&Event::Disconnected(dropped), Some(ME)),
        vec![ChannelEvent::Disconnected {
            reason: "connection lost: stream ended (EOF); reconnecting".into()
        }]
    );
}

fn one(event: Event) -> ChannelEvent {
    let mut events = map_event(&event, Some(ME));
    assert_eq!(events.len(), 1, "{events:?}");
    events.remove(0)
}

#[test]
fn logged_out() {
    let locked = LoggedOut::builder()
        .on_connect(true)
        .reason(ConnectFailureReason::AccountLocked)
        .logout_message(
            LogoutMessage::builder()
                .header("Account locked".into())
                .subtext("Contact support".into())
                .build(),
        )
        .build();
    assert_eq!(
        one(Event::LoggedOut(locked)),
        ChannelEvent::LoggedOut {
            reason: "logged out: 403 (AccountLocked); Account locked; Contact support".into()
        }
    );
    let unlinked = LoggedOut::builder()
        .on_connect(false)
        .reason(ConnectFailureReason::LoggedOut)
        .build();
    assert_eq!(
        one(Event::LoggedOut(unlinked)),
        ChannelEvent::LoggedOut {
            reason: "logged out: 401 (LoggedOut)".into()
        }
    );
}

#[test]
fn replaced_banned_and_outdated_keep_the_device_but_stop_reconnecting() {
    assert_eq!(
        one(Event::StreamReplaced(StreamReplaced::builder().build())),
        ChannelEvent::Disconnected {
            reason: "replaced: another client connected with this account; not reconnecting by itself".into()
        }
    );
    let ban = TemporaryBan::builder()
        .code(TempBanReason::BlockedByUsers)
        .expire(whatsapp_rust::chrono::Duration::seconds(3600))
        .message("slow down".into())
        .build();
    assert_eq!(
        one(Event::TemporaryBan(ban)),
        ChannelEvent::Disconnected {
            reason: "temporarily banned (102: too many people blocked you): slow down; expires in 3600s; \
                     not reconnecting by itself"
                .into()
        }
    );
    assert_eq!(
        one(Event::ClientOutdated(ClientOutdated::builder().build())),
        ChannelEvent::Disconnected {
            reason: "client outdated: WhatsApp refused this whatsapp-rust version (405); update purr; not reconnecting"
                .into()
        }
    );
}

#[test]
fn connect_failures_follow_what_the_crate_does_next() {
    let failure = |reason, message: Option<&str>| {
        one(Event::ConnectFailure(
            ConnectFailure::builder()
                .reason(reason)
                .maybe_message(message.map(Into::into))
                .build(),
        ))
    };
    assert_eq!(
        failure(ConnectFailureReason::ServiceUnavailable, None),
        ChannelEvent::Disconnected {
            reason: "connect failure 503 (ServiceUnavailable); reconnecting".into()
        }
    );
    assert_eq!(
        failure(ConnectFailureReason::CatInvalid, Some("bad token")),
        ChannelEvent::Disconnected {
            reason: "connect failure 414 (CatInvalid): bad token; not reconnecting by itself".into()
        }
    );
    assert_eq!(
        failure(ConnectFailureReason::UnknownLogout, None),
        ChannelEvent::LoggedOut {
            reason: "connect failure 406 (UnknownLogout)".into()
        }
    );
}

#[test]
fn exhausted_qr_codes_end_the_attempt_only_when_the_socket_closed() {
    assert_eq!(
        map_event(
            &Event::PairingQrCodesExhausted(PairingQrCodesExhausted::builder().disconnected(true).build()),
            None
        ),
        vec![ChannelEvent::Disconnected {
            reason: "pairing QR codes expired without a scan; start the session again for a new QR".into()
        }]
    );
    assert_eq!(
        map_event(
            &Event::PairingQrCodesExhausted(PairingQrCodesExhausted::builder().disconnected(false).build()),
            None
        ),
        vec![]
    );
}

#[test]
fn other_events_map_to_nothing() {
    for event in [
        Event::OfflineSyncCompleted(OfflineSyncCompleted::builder().count(3).build()),
        Event::StreamError(StreamError::builder().code("500".into()).build()),
    ] {
        assert_eq!(map_event(&event, Some(ME)), vec![]);
    }
}

#[test]
fn malformed_media_handles_are_refused() {
    assert!(MediaRef::decode("wa2:TWFu").is_err(), "another version");
    assert!(MediaRef::decode("wa1:T").is_err(), "not base64url");
    assert!(MediaRef::decode("wa1:TWFu").is_err(), "not a media reference");
}
