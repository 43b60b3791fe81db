//! `legacy`: a plugin built against `purr:bot@0.1.0` (the copy of the WIT
//! in `wit/`, as it was before 0.1.1 added outbound HTTP). It answers every
//! text with `legacy <text>`, so a test can prove that a host of a newer
//! 0.1.x still links and runs components built for 0.1.0.

wit_bindgen::generate!({ path: "wit", world: "purr:bot/plugin" });

use exports::purr::bot::handler::{Context, Event, Flow, Guest};
use purr::bot::messaging;
use purr::bot::types::Content;

struct Legacy;

impl Guest for Legacy {
    fn init() -> Result<(), String> {
        Ok(())
    }

    fn handle(_ctx: Context, event: Event) -> Result<Flow, String> {
        if let Event::Message(message) = event
            && !message.from_me
            && let Content::Text(text) = &message.content
        {
            messaging::send_text(&message.chat, &format!("legacy {text}"))?;
        }
        Ok(Flow::Next)
    }
}

export!(Legacy);
