// The body of the `tagged-v1` and `tagged-v2` test plugins, which differ
// only in `VERSION`: every text message is answered with `<VERSION> <text>`,
// so a test that swaps one file for the other sees which version served
// each message.

wit_bindgen::generate!({ path: "../../../wit", world: "purr:bot/plugin", generate_all });

use exports::purr::bot::handler::{Context, Event, Flow, Guest};
use purr::bot::messaging;
use purr::bot::types::Content;

struct Tagged;

impl Guest for Tagged {
    fn init() -> Result<(), String> {
        Ok(())
    }

    fn handle(_ctx: Context, event: Event) -> Result<Flow, String> {
        if let Event::Message(message) = event
            && !message.from_me
            && let Content::Text(text) = &message.content
        {
            messaging::send_text(&message.chat, &format!("{VERSION} {text}"))?;
        }
        Ok(Flow::Next)
    }
}

export!(Tagged);
