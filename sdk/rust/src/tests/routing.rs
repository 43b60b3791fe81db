//! Routes: filters, commands, hears, middleware order, stop, own messages,
//! errors and registration errors.

use super::{Trace, dispatch, media, message, text};
use crate::{Bot, Content, Error, Event, ExtendedText, Flow, Location, Presence, Receipt, ReceiptKind, TimerFired};

fn receipt() -> Event {
    Event::Receipt(Receipt {
        chat: "user@sim".into(),
        sender: "user@sim".into(),
        message_ids: vec!["m1".into()],
        kind: ReceiptKind::Read,
        timestamp_ms: 1,
    })
}

fn timer(payload: &str) -> Event {
    Event::Timer(TimerFired {
        id: "t1".into(),
        payload: payload.into(),
    })
}

/// Which of `events` a route with `filter` runs for, by index.
fn matching(filter: &[&str], events: &[Event]) -> Vec<usize> {
    let trace = Trace::default();
    let mut bot = Bot::new();
    bot.on(filter, trace.mark("hit"));
    bot.check().expect("known filters");
    (0..events.len())
        .filter(|&i| {
            dispatch(&bot, events[i].clone()).0.unwrap();
            !trace.take().is_empty()
        })
        .collect()
}

#[test]
fn filters_match_their_kinds_only() {
    let extended = Content::ExtendedText(ExtendedText {
        text: "with preview".into(),
        preview_url: Some("https://example.org".into()),
        preview_title: None,
    });
    let location = Content::Location(Location {
        latitude: 1.0,
        longitude: 2.0,
        name: None,
        address: None,
    });
    let events = [
        text("hi"),                                  // 0
        message(extended, false),                    // 1
        message(Content::Image(media("!x")), false), // 2
        message(Content::Sticker(media("")), false), // 3
        message(location, false),                    // 4
        receipt(),                                   // 5
        timer("{}"),                                 // 6
        Event::Started,                              // 7
        Event::Presence(Presence {
            sender: "user@sim".into(),
            available: true,
            last_seen_ms: None,
        }), // 8
    ];
    assert_eq!(
        matching(&["message:text"], &events),
        [0, 1],
        "extended text is text, a caption is not"
    );
    assert_eq!(matching(&["message:media"], &events), [2, 3]);
    assert_eq!(matching(&["message:image"], &events), [2]);
    assert_eq!(matching(&["message"], &events), [0, 1, 2, 3, 4]);
    assert_eq!(
        matching(&["receipt", "timer"], &events),
        [5, 6],
        "a list is any of them"
    );
    assert_eq!(matching(&["started", "presence"], &events), [7, 8]);
    assert_eq!(matching(&["*"], &events), (0..events.len()).collect::<Vec<_>>());
}

#[test]
fn an_unknown_filter_query_is_an_error_naming_it() {
    let mut bot = Bot::new();
    bot.on("message:text", |_| ());
    bot.on("mesage:txt", |_| ()).own();
    let error = bot.check().unwrap_err().to_string();
    assert!(error.contains(r#"unknown filter query "mesage:txt""#), "{error}");
    assert!(error.contains("known: message, message:text, message:image"), "{error}");
    assert!(error.contains("timer, *"), "{error}");

    let mut bot = Bot::new();
    bot.on::<()>([], |_| ());
    assert!(bot.check().unwrap_err().to_string().contains("no filter query"));
    let mut bot = Bot::new();
    bot.command("two words", |_| ());
    assert!(
        bot.check()
            .unwrap_err()
            .to_string()
            .contains(r#"invalid command name "two words""#)
    );
    let mut bot = Bot::new();
    bot.hears("(unclosed", |_| ());
    assert!(
        bot.check()
            .unwrap_err()
            .to_string()
            .contains(r#"bad regex "(unclosed""#)
    );
}

#[test]
fn commands_match_by_name_in_any_case_and_set_the_rest_and_args() {
    let trace = Trace::default();
    let mut bot = Bot::new();
    let seen = trace.clone();
    bot.command(["echo", "Say"], move |ctx| {
        seen.push(format!(
            "{}|{}|{}",
            ctx.command().unwrap(),
            ctx.matched(),
            ctx.args().join(",")
        ));
    });
    let run = |input: &str| {
        dispatch(&bot, text(input)).0.unwrap();
        trace.take()
    };
    assert_eq!(run("!echo hello world"), ["echo|hello world|hello,world"]);
    assert_eq!(run("  /ECHO  two  spaces  "), ["echo| two  spaces|two,spaces"]);
    assert_eq!(
        run("!say \"two words\" 'and more'"),
        ["say|\"two words\" 'and more'|two words,and more"]
    );
    assert_eq!(run("!Echo"), ["echo||"]);
    for no in ["!echoes x", "echo x", "!ping", "\u{1c}!echo x"] {
        assert_eq!(run(no), Vec::<String>::new(), "{no:?}");
    }
    // Not on a caption.
    dispatch(&bot, message(Content::Image(media("!echo x")), false))
        .0
        .unwrap();
    assert!(trace.take().is_empty());
}

#[test]
fn hears_searches_the_untrimmed_text_and_sets_captures() {
    let trace = Trace::default();
    let mut bot = Bot::new();
    let seen = trace.clone();
    bot.hears(r"(?i)^(?:hi|hello),?\s+(\w+)", move |ctx| {
        seen.push(format!("{}|{}", ctx.capture(1).unwrap(), ctx.matched()));
    });
    let seen = trace.clone();
    bot.hears(r"(?P<num>\d+) (?P<unit>ms|s)(?P<never>!)?", move |ctx| {
        seen.push(format!(
            "{} {} {:?} {:?}",
            ctx.named("num").unwrap(),
            ctx.named("unit").unwrap(),
            ctx.named("never"),
            ctx.capture(9)
        ));
    });
    let run = |input: &str| {
        dispatch(&bot, text(input)).0.unwrap();
        trace.take()
    };
    assert_eq!(run("Hello, Ann and Bob"), ["Ann|Hello, Ann"]);
    assert_eq!(run("hi   bob"), ["bob|hi   bob"]);
    assert_eq!(
        run(" hi bob"),
        Vec::<String>::new(),
        "untrimmed: ^ does not match after a space"
    );
    assert_eq!(
        run("wait 10 s please"),
        ["10 s None None"],
        "a search, not a full match"
    );
}

#[test]
fn routes_run_in_order_until_one_stops() {
    let trace = Trace::default();
    let mut bot = Bot::new();
    let seen = trace.clone();
    bot.middleware(move |_| {
        seen.push("m1");
        Ok(Flow::Next)
    });
    bot.on("message", trace.mark("a"));
    bot.command("stop", |ctx| ctx.stop());
    let seen = trace.clone();
    bot.middleware(move |ctx| {
        seen.push("m2");
        Ok(if ctx.text() == Some("halt") {
            Flow::Stop
        } else {
            Flow::Next
        })
    });
    bot.on("message:text", trace.mark("b"));
    bot.on("*", trace.mark("c"));

    let (flow, ctx) = dispatch(&bot, text("go"));
    assert_eq!(
        (flow, trace.take()),
        (
            Ok(Flow::Next),
            vec!["m1", "a", "m2", "b", "c"].into_iter().map(String::from).collect()
        )
    );
    assert!(!ctx.stopped());
    let (flow, _) = dispatch(&bot, text("halt"));
    assert_eq!(
        (flow, trace.take()),
        (Ok(Flow::Stop), ["m1", "a", "m2"].map(String::from).to_vec())
    );
    let (flow, ctx) = dispatch(&bot, text("/stop"));
    assert_eq!(
        (flow, trace.take()),
        (Ok(Flow::Stop), ["m1", "a"].map(String::from).to_vec())
    );
    assert!(ctx.stopped());
    let (flow, _) = dispatch(&bot, receipt());
    assert_eq!(
        (flow, trace.take()),
        (Ok(Flow::Next), ["m1", "m2", "c"].map(String::from).to_vec())
    );
}

#[test]
fn own_messages_are_skipped_unless_the_route_opts_in() {
    let trace = Trace::default();
    let mut bot = Bot::new();
    let seen = trace.clone();
    bot.middleware(move |_| {
        seen.push("middleware");
        Ok(Flow::Next)
    });
    bot.command("ping", trace.mark("ping"));
    bot.on("message", trace.mark("own")).own();
    bot.on("*", trace.mark("any"));

    dispatch(&bot, message(Content::Text("!ping".into()), true)).0.unwrap();
    assert_eq!(trace.take(), ["own"]);
    dispatch(&bot, text("!ping")).0.unwrap();
    assert_eq!(trace.take(), ["middleware", "ping", "own", "any"]);
}

#[test]
fn a_handler_error_fails_the_event_with_its_message() {
    let trace = Trace::default();
    let mut bot = Bot::new();
    bot.command("fail", |_| Err::<(), _>(Error::new("it broke: on purpose")));
    // An action that does not apply to the event fails it too (before any host call).
    bot.on("receipt", |ctx| ctx.reply("never"));
    bot.on("*", trace.mark("after"));

    let (flow, _) = dispatch(&bot, text("!fail now"));
    assert_eq!(flow, Err(Error::new("it broke: on purpose")));
    assert!(trace.take().is_empty(), "no route runs after an error");
    let (flow, _) = dispatch(&bot, receipt());
    assert_eq!(flow, Err(Error::new("reply: this event is not a message")));
}

#[test]
fn catch_handles_errors_instead() {
    let trace = Trace::default();
    let mut bot = Bot::new();
    bot.command("fail", |_| Err::<(), _>("bad".into()));
    bot.command("failstop", |ctx| {
        ctx.stop();
        Err::<(), _>("worse".into())
    });
    bot.command("failhard", |_| Err::<(), _>("worst".into()));
    bot.on("*", trace.mark("after"));
    let seen = trace.clone();
    bot.catch(move |_ctx, error| {
        seen.push(format!("caught {error}"));
        if error.message() == "worst" {
            Err(Error::new("catcher gave up"))
        } else {
            Ok(())
        }
    });

    assert_eq!(dispatch(&bot, text("!fail")).0, Ok(Flow::Next));
    assert_eq!(trace.take(), ["caught bad"], "routing ends at the error");
    assert_eq!(dispatch(&bot, text("!failstop")).0, Ok(Flow::Stop));
    assert_eq!(trace.take(), ["caught worse"]);
    assert_eq!(dispatch(&bot, text("!failhard")).0, Err(Error::new("catcher gave up")));
    assert_eq!(dispatch(&bot, text("fine")).0, Ok(Flow::Next));
    assert_eq!(trace.take(), ["caught worst", "after"]);
}
