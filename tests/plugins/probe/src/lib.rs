//! `probe`: a test plugin that exercises every capability on command.
//!
//! Integration tests drive it with text messages; the first word is the
//! command, and it answers in the message's chat:
//!
//! | command | effect | answer |
//! |---|---|---|
//! | `fail` | returns an error | — |
//! | `trap` | panics (a wasm trap) | — |
//! | `timer <ms> <text>` | schedules a timer | `scheduled`; later `timer: <text>` |
//! | `cancel-all` | cancels the timers this instance scheduled | `cancelled <n>` |
//! | `kv-set <k> <v>` / `kv-get <k>` / `kv-del <k>` / `kv-list <prefix>` | kv | `ok` / value or `(none)` / `true`,`false` / keys joined by `,` |
//! | `config <k>` / `config-list <k>` / `config-json` | settings | value or `(none)` |
//! | `log <text>` / `stdout <text>` | log, println | `logged` / `printed` |
//! | `react` | reacts 👍 to the message | `reacted` |
//! | `events` | — | non-message events this instance saw, joined by `,` |
//! | `session` | — | the session name |
//! | `stop <text>` | answers and stops the chain | `<text>` |
//! | `set-then-fail <k> <v>` | sets kv `k`, sends `sent`, then returns an error | — (nothing may survive) |
//! | `flaky <n>` | fails until this instance was called `n` times for it | `ok after <n>` |

use std::cell::RefCell;

wit_bindgen::generate!({ path: "../../../wit", world: "purr:bot/plugin", generate_all });

use exports::purr::bot::handler::{Context, Event, Flow, Guest};
use purr::bot::log::Level;
use purr::bot::types::{Content, Message};
use purr::bot::{config, kv, log, messaging, timers};

thread_local! {
    /// Names of the non-message events this instance has seen.
    static EVENTS: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) };
    /// How often `flaky` was called on this instance.
    static FLAKY_CALLS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    /// Ids of the timers this instance scheduled.
    static TIMERS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

struct Probe;

impl Guest for Probe {
    fn init() -> Result<(), String> {
        Ok(())
    }

    fn handle(ctx: Context, event: Event) -> Result<Flow, String> {
        let name = match &event {
            Event::Message(message) if !message.from_me => return command(&ctx, message),
            Event::Message(_) => return Ok(Flow::Next),
            Event::Timer(timer) => {
                let (chat, text) = timer.payload.split_once('\n').unwrap_or((&timer.payload, ""));
                messaging::send_text(chat, &format!("timer: {text}"))?;
                "timer"
            }
            Event::Started => "started",
            Event::Qr(_) => "qr",
            Event::PairCode(_) => "pair-code",
            Event::Connected(_) => "connected",
            Event::Disconnected(_) => "disconnected",
            Event::LoggedOut(_) => "logged-out",
            Event::Receipt(_) => "receipt",
            Event::Presence(_) => "presence",
            Event::ChatState(_) => "chat-state",
            Event::GroupUpdate(_) => "group-update",
        };
        EVENTS.with(|events| events.borrow_mut().push(name));
        Ok(Flow::Next)
    }
}

fn command(ctx: &Context, message: &Message) -> Result<Flow, String> {
    let Content::Text(text) = &message.content else {
        return Ok(Flow::Next);
    };
    let (verb, rest) = text.split_once(' ').unwrap_or((text, ""));
    let answer = match verb {
        "fail" => return Err("probe asked to fail".into()),
        "set-then-fail" => {
            let (key, value) = rest.split_once(' ').unwrap_or((rest, ""));
            kv::set(key, value.as_bytes())?;
            messaging::send_text(&message.chat, "sent")?;
            return Err("probe failed after writing".into());
        }
        "trap" => panic!("probe asked to trap"),
        "stop" => {
            messaging::send_text(&message.chat, rest)?;
            return Ok(Flow::Stop);
        }
        "timer" => {
            let (ms, text) = rest.split_once(' ').unwrap_or((rest, ""));
            let ms = ms.parse().map_err(|_| format!("bad delay {ms:?}"))?;
            let id = timers::schedule(ms, &format!("{}\n{text}", message.chat))?;
            TIMERS.with(|t| t.borrow_mut().push(id));
            "scheduled".to_string()
        }
        "cancel-all" => {
            let ids = TIMERS.with(|t| std::mem::take(&mut *t.borrow_mut()));
            let mut cancelled = 0;
            for id in ids {
                cancelled += u32::from(timers::cancel(&id)?);
            }
            format!("cancelled {cancelled}")
        }
        "kv-set" => {
            let (key, value) = rest.split_once(' ').unwrap_or((rest, ""));
            kv::set(key, value.as_bytes())?;
            "ok".to_string()
        }
        "kv-get" => kv::get(rest)?.map_or("(none)".into(), |v| String::from_utf8_lossy(&v).into_owned()),
        "kv-del" => kv::delete(rest)?.to_string(),
        "kv-list" => joined(kv::list_keys(rest)?),
        "config" => config::get(rest).unwrap_or_else(|| "(none)".into()),
        "config-list" => joined(config::get_list(rest).unwrap_or_default()),
        "config-json" => config::all_json(),
        "log" => {
            log::log(Level::Info, rest);
            "logged".to_string()
        }
        "stdout" => {
            println!("{rest}");
            "printed".to_string()
        }
        "react" => {
            messaging::react(&message.chat, &message.id, "👍")?;
            "reacted".to_string()
        }
        "events" => joined(EVENTS.with(|e| e.borrow().iter().map(|s| s.to_string()).collect())),
        "session" => ctx.session.clone(),
        "flaky" => {
            let needed: u32 = rest.parse().map_err(|_| format!("bad count {rest:?}"))?;
            let calls = FLAKY_CALLS.with(|c| {
                c.set(c.get() + 1);
                c.get()
            });
            if calls < needed {
                return Err(format!("flaky: call {calls} of {needed}"));
            }
            format!("ok after {calls}")
        }
        _ => return Ok(Flow::Next),
    };
    messaging::send_text(&message.chat, &answer)?;
    Ok(Flow::Next)
}

fn joined(items: Vec<String>) -> String {
    if items.is_empty() {
        "(none)".into()
    } else {
        items.join(",")
    }
}

export!(Probe);
