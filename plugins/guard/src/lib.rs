//! `guard`: a middleware that blocks messages with banned words.
//!
//! Setting `banned = ["word", ...]`. A text message containing one of them
//! (case-insensitive) is answered with a quoted reply `blocked` and stops
//! the chain: later plugins never see it. Everything else passes on.

wit_bindgen::generate!({ path: "../../wit", world: "purr:bot/plugin" });

use exports::purr::bot::handler::{Context, Event, Flow, Guest};
use purr::bot::types::Content;
use purr::bot::{config, messaging};

struct Guard;

impl Guest for Guard {
    fn init() -> Result<(), String> {
        Ok(())
    }

    fn handle(_ctx: Context, event: Event) -> Result<Flow, String> {
        let Event::Message(message) = event else {
            return Ok(Flow::Next);
        };
        let text = match &message.content {
            Content::Text(text) => text,
            Content::ExtendedText(extended) => &extended.text,
            _ => return Ok(Flow::Next),
        };
        if message.from_me || !is_banned(text) {
            return Ok(Flow::Next);
        }
        messaging::reply(&message.chat, &message.id, "blocked")?;
        Ok(Flow::Stop)
    }
}

fn is_banned(text: &str) -> bool {
    let text = text.to_lowercase();
    config::get_list("banned")
        .unwrap_or_default()
        .iter()
        .any(|word| !word.is_empty() && text.contains(&word.to_lowercase()))
}

export!(Guard);
