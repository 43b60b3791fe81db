//! `unruly`: a test plugin that misbehaves on every event, of any kind
//! (`started`, `connected`, messages, timers, ...), as its `mode` setting
//! says. Unlike `hostile` it needs no command, so a chain or a shadow
//! candidate fails on every event it is given:
//!
//! | `mode` | on every event |
//! |---|---|
//! | `trap` | executes `unreachable` (a trap) |
//! | `loop` | spins forever (the deadline must stop it) |
//! | anything else, or unset | returns `Flow::Next` and does nothing |
//!
//! A shadow candidate is loaded with the live plugin's entry, so its
//! `mode` is the live plugin's: `[plugins.echo.config] mode = "loop"`
//! (which `echo` ignores) makes an `unruly` shadow of `echo` spin.

wit_bindgen::generate!({ path: "../../../wit", world: "purr:bot/plugin", generate_all });

use exports::purr::bot::handler::{Context, Event, Flow, Guest};
use purr::bot::config;

struct Unruly;

impl Guest for Unruly {
    fn init() -> Result<(), String> {
        Ok(())
    }

    fn handle(_ctx: Context, _event: Event) -> Result<Flow, String> {
        match config::get("mode").as_deref() {
            // On wasm, abort is the `unreachable` instruction.
            Some("trap") => std::process::abort(),
            Some("loop") => spin(),
            _ => Ok(Flow::Next),
        }
    }
}

fn spin() -> ! {
    let mut x: u64 = 0;
    loop {
        x = core::hint::black_box(x.wrapping_add(1));
    }
}

export!(Unruly);
