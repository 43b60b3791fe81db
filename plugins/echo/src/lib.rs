//! `echo`: the example bot.
//!
//! - `!ping` → `pong`
//! - `!echo <text>` → `<text>`
//! - `!count` → how many messages this plugin has seen in this chat of this
//!   session, this one included (kept in kv, so it survives restarts)
//! - `!hello` → the `greeting` setting (default `hello`)
//!
//! Other messages get no answer. Messages this account sent itself are
//! ignored, so the bot never talks to itself.

wit_bindgen::generate!({ path: "../../wit", world: "purr:bot/plugin" });

use exports::purr::bot::handler::{Context, Event, Flow, Guest};
use purr::bot::types::{Content, Message};
use purr::bot::{config, kv, messaging};

struct Echo;

impl Guest for Echo {
    fn init() -> Result<(), String> {
        Ok(())
    }

    fn handle(_ctx: Context, event: Event) -> Result<Flow, String> {
        if let Event::Message(message) = event
            && !message.from_me
        {
            answer(&message)?;
        }
        Ok(Flow::Next)
    }
}

fn answer(message: &Message) -> Result<(), String> {
    let seen = count_message(&message.chat)?;
    let Some(text) = text_of(&message.content) else {
        return Ok(());
    };
    let text = text.trim();
    let reply = if text == "!ping" {
        "pong".to_string()
    } else if let Some(rest) = text.strip_prefix("!echo ") {
        rest.to_string()
    } else if text == "!count" {
        seen.to_string()
    } else if text == "!hello" {
        config::get("greeting").unwrap_or_else(|| "hello".to_string())
    } else {
        return Ok(());
    };
    messaging::send_text(&message.chat, &reply)?;
    Ok(())
}

/// Counts one more message in `chat`; returns the new count.
fn count_message(chat: &str) -> Result<u64, String> {
    let key = format!("count/{chat}");
    let seen = match kv::get(&key)? {
        Some(bytes) => String::from_utf8_lossy(&bytes).parse::<u64>().unwrap_or(0),
        None => 0,
    } + 1;
    kv::set(&key, seen.to_string().as_bytes())?;
    Ok(seen)
}

fn text_of(content: &Content) -> Option<&str> {
    match content {
        Content::Text(text) => Some(text),
        Content::ExtendedText(extended) => Some(&extended.text),
        _ => None,
    }
}

export!(Echo);
