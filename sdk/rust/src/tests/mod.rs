//! Unit tests of everything that runs without the host: routing, filters,
//! command parsing, context accessors, decoding. (Host imports are stubs
//! that panic off-wasm, so no test here reaches one.)

mod context;
mod parsing;
mod routing;

use std::cell::RefCell;
use std::rc::Rc;

use crate::{Bot, Content, Context, Ctx, Event, Flow, Media, Message, Result};

fn context() -> Context {
    Context {
        session: "s".into(),
        event_id: "e1".into(),
        self_jid: Some("me@sim".into()),
    }
}

/// A message of `user@sim` in its direct chat (or sent by this account).
fn message(content: Content, from_me: bool) -> Event {
    Event::Message(Message {
        id: "m1".into(),
        chat: "user@sim".into(),
        sender: if from_me { "me@sim" } else { "user@sim" }.into(),
        from_me,
        timestamp_ms: 1,
        push_name: Some("User".into()),
        is_group: false,
        quoted_id: None,
        content,
    })
}

fn text(text: &str) -> Event {
    message(Content::Text(text.into()), false)
}

fn media(caption: &str) -> Media {
    Media {
        handle: "h1".into(),
        mime: "image/jpeg".into(),
        size: 10,
        caption: Some(caption.into()),
        file_name: None,
        seconds: None,
    }
}

/// What the routes of a test did, in order.
#[derive(Clone, Default)]
struct Trace(Rc<RefCell<Vec<String>>>);

impl Trace {
    fn push(&self, entry: impl Into<String>) {
        self.0.borrow_mut().push(entry.into());
    }

    /// The entries so far, and forgets them.
    fn take(&self) -> Vec<String> {
        self.0.borrow_mut().drain(..).collect()
    }

    /// A handler that records `label`.
    fn mark(&self, label: &'static str) -> impl Fn(&mut Ctx) + 'static {
        let trace = self.clone();
        move |_| trace.push(label)
    }
}

/// Dispatches `event` to `bot`; the answer and the context after it.
fn dispatch(bot: &Bot, event: Event) -> (Result<Flow>, Ctx) {
    let mut ctx = Ctx::new(context(), event);
    let flow = bot.dispatch(&mut ctx);
    (flow, ctx)
}
