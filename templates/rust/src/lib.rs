//! `{{name}}`: a purr plugin (see wit/purr.wit for everything it can do).
//!
//! - `!ping` → `pong`
//! - `!hello` → the `greeting` setting (default `hello`)

wit_bindgen::generate!({ path: "wit", world: "purr:bot/plugin" });

use exports::purr::bot::handler::{Context, Event, Flow, Guest};
use purr::bot::types::Content;
use purr::bot::{config, messaging};

struct Plugin;

impl Guest for Plugin {
    fn init() -> Result<(), String> {
        Ok(())
    }

    fn handle(_ctx: Context, event: Event) -> Result<Flow, String> {
        let Event::Message(message) = event else {
            return Ok(Flow::Next);
        };
        let Content::Text(text) = &message.content else {
            return Ok(Flow::Next);
        };
        if message.from_me {
            return Ok(Flow::Next);
        }
        let reply = match text.trim() {
            "!ping" => "pong".to_string(),
            "!hello" => config::get("greeting").unwrap_or_else(|| "hello".to_string()),
            _ => return Ok(Flow::Next),
        };
        messaging::send_text(&message.chat, &reply)?;
        Ok(Flow::Next)
    }
}

export!(Plugin);
