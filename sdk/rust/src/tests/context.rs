//! `Ctx`: what it tells about each kind of event, scoped kv keys, timer
//! payloads.

use super::{context, dispatch, media, message, text};
use crate::serde_json::{Value, json};
use crate::{
    Bot, ChatStateUpdate, Content, Ctx, Error, Event, GroupChange, GroupUpdate, Presence, Receipt, ReceiptKind,
    TimerFired,
};

#[test]
fn a_message_context_has_its_fields() {
    let ctx = Ctx::new(context(), text("  !ping "));
    assert_eq!((ctx.session.as_str(), ctx.event_id.as_str()), ("s", "e1"));
    assert_eq!(ctx.self_jid.as_deref(), Some("me@sim"));
    assert_eq!(ctx.text(), Some("  !ping "), "untrimmed");
    assert_eq!((ctx.chat(), ctx.sender()), (Some("user@sim"), Some("user@sim")));
    assert_eq!((ctx.id(), ctx.push_name()), (Some("m1"), Some("User")));
    assert!(!ctx.from_me() && !ctx.is_group());
    assert!(ctx.message().is_some());
    assert_eq!((ctx.command(), ctx.matched(), ctx.args()), (None, "", &[][..]));
    assert_eq!((ctx.timer_id(), ctx.payload_raw()), (None, None));

    let ctx = Ctx::new(context(), message(Content::Image(media("!ping")), true));
    assert_eq!(ctx.text(), None, "a caption is not text");
    assert!(ctx.from_me());
}

#[test]
fn other_events_have_a_chat_and_sender_when_they_name_one() {
    let receipt = Event::Receipt(Receipt {
        chat: "group@sim".into(),
        sender: "alice@sim".into(),
        message_ids: vec![],
        kind: ReceiptKind::Delivered,
        timestamp_ms: 1,
    });
    let typing = Event::ChatState(ChatStateUpdate {
        chat: "bob@sim".into(),
        sender: "bob@sim".into(),
        state: crate::ChatState::Composing,
    });
    let group = Event::GroupUpdate(GroupUpdate {
        group: "group@sim".into(),
        author: None,
        change: GroupChange::Subject("new".into()),
        timestamp_ms: 1,
    });
    let presence = Event::Presence(Presence {
        sender: "carol@sim".into(),
        available: false,
        last_seen_ms: None,
    });
    let who = |event: Event| {
        let ctx = Ctx::new(context(), event);
        (
            ctx.chat().map(String::from),
            ctx.sender().map(String::from),
            ctx.message().is_some(),
        )
    };
    let some = |s: &str| Some(s.to_string());
    assert_eq!(who(receipt), (some("group@sim"), some("alice@sim"), false));
    assert_eq!(who(typing), (some("bob@sim"), some("bob@sim"), false));
    assert_eq!(who(group), (some("group@sim"), None, false));
    assert_eq!(who(presence), (None, some("carol@sim"), false));
    assert_eq!(who(Event::Connected("me@sim".into())), (None, None, false));
}

#[test]
fn scoped_kv_keys_carry_the_chat_or_sender() {
    let ctx = Ctx::new(context(), text("x"));
    assert_eq!(ctx.kv.key("count"), Ok("count".into()));
    assert_eq!(ctx.chat_kv().key("count"), Ok("chat/user@sim/count".into()));
    assert_eq!(ctx.sender_kv().key("n"), Ok("sender/user@sim/n".into()));

    let ctx = Ctx::new(context(), Event::Started);
    assert_eq!(
        ctx.chat_kv().key("count"),
        Err(Error::new("chat_kv: this event has no chat"))
    );
    assert_eq!(
        ctx.sender_kv().key("n"),
        Err(Error::new("sender_kv: this event has no sender"))
    );
}

fn timer(payload: &str) -> Ctx {
    Ctx::new(
        context(),
        Event::Timer(TimerFired {
            id: "t7".into(),
            payload: payload.into(),
        }),
    )
}

#[test]
fn timer_payloads_decode_from_json_or_as_their_raw_text() {
    let ctx = timer(r#"{"chat":"user@sim","text":"tea"}"#);
    assert_eq!(ctx.timer_id(), Some("t7"));
    assert_eq!(ctx.payload::<Value>(), Ok(json!({"chat": "user@sim", "text": "tea"})));
    assert_eq!(timer("42").payload::<u64>(), Ok(42));
    assert_eq!(timer(r#""quoted""#).payload::<String>(), Ok("quoted".into()));
    // Not JSON at all: the raw text, as a JSON string.
    assert_eq!(timer("hourly").payload::<String>(), Ok("hourly".into()));
    assert_eq!(timer("hourly").payload::<Value>(), Ok(json!("hourly")));
    // JSON of another type is an error.
    let error = timer(r#"{"a":1}"#).payload::<u64>().unwrap_err();
    assert!(error.message().starts_with("JSON: invalid type"), "{error}");
    let error = Ctx::new(context(), text("x")).payload::<Value>().unwrap_err();
    assert_eq!(error, Error::new("payload: this event is not a timer"));
}

#[test]
fn actions_that_do_not_apply_fail_before_calling_the_host() {
    let mut bot = Bot::new();
    bot.on("started", |ctx| ctx.send("hello"));
    bot.on("presence", |ctx| ctx.react("👍"));
    bot.on("connected", |ctx| ctx.download().map(drop));
    bot.on("message:text", |ctx| ctx.download().map(drop));
    let presence = Event::Presence(Presence {
        sender: "carol@sim".into(),
        available: true,
        last_seen_ms: None,
    });
    let failure = |event| dispatch(&bot, event).0.unwrap_err().to_string();
    assert_eq!(failure(Event::Started), "send: this event has no chat");
    assert_eq!(failure(presence), "react: this event is not a message");
    assert_eq!(
        failure(Event::Connected("me@sim".into())),
        "download: this event is not a message"
    );
    assert_eq!(failure(text("x")), "download: this message has no media");
}
