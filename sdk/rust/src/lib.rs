//! purr-sdk: write purr bots in Rust — routes, a context per event, typed
//! state, config, timers and outbound HTTP over `wit/purr.wit`.
//!
//! ```ignore
//! use purr_sdk::Bot;
//!
//! purr_sdk::plugin!(setup);
//!
//! fn setup(bot: &mut Bot) {
//!     bot.command("ping", |ctx| ctx.reply("pong"));
//! }
//! ```
//!
//! A plugin crate depends on this crate only: the WIT bindings are
//! generated here ([`bindings`]) and [`plugin!`] exports the handler.
//! See `README.md` for the whole API.

mod actions;
mod command;
mod config;
mod ctx;
mod error;
mod filter;
mod hears;
pub mod http;
mod kv;
pub mod log;
mod router;
#[doc(hidden)]
pub mod runtime;
mod timers;

#[cfg(test)]
mod tests;

/// The bindings `wit_bindgen` generates for the `purr:bot/plugin` world
/// (and the `wasi:http` packages it imports).
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "purr:bot/plugin",
        pub_export_macro: true,
        default_bindings_module: "::purr_sdk::bindings",
        export_macro_name: "export_plugin",
        generate_all,
    });
}

pub use config::Config;
pub use ctx::Ctx;
pub use error::{Error, Result};
pub use kv::Kv;
pub use log::Log;
pub use router::{Bot, Names, Outcome, Route};
pub use timers::{cancel, later};

pub use bindings::purr::bot::messaging::MediaKind;
pub use bindings::purr::bot::types::{
    ChatState, ChatStateUpdate, Contact, Content, Context, Event, ExtendedText, Flow, GroupChange, GroupUpdate,
    Location, Media, Message, Presence, QrCode, Reaction, Receipt, ReceiptKind, TimerFired,
};

/// The host's interfaces as generated, for what the SDK does not wrap
/// (`messaging::edit`, `messaging::delete`, `messaging::set_chat_state`, ...).
pub mod raw {
    pub use crate::bindings::purr::bot::{config, kv, log, messaging, timers};
}

pub use serde;
pub use serde_json;

/// What most plugins use: `use purr_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::{Bot, Ctx, Error, Flow, Result};
}

/// Registers the plugin: `purr_sdk::plugin!(setup);` where
/// `fn setup(bot: &mut Bot)` adds the routes. The SDK builds the bot once
/// per instance (in `init`) and hands it every event.
#[macro_export]
macro_rules! plugin {
    ($setup:path) => {
        #[doc(hidden)]
        pub struct __PurrPlugin;

        impl $crate::bindings::exports::purr::bot::handler::Guest for __PurrPlugin {
            fn init() -> ::core::result::Result<(), $crate::runtime::String> {
                $crate::runtime::init($setup)
            }

            fn handle(
                context: $crate::Context,
                event: $crate::Event,
            ) -> ::core::result::Result<$crate::Flow, $crate::runtime::String> {
                $crate::runtime::handle($setup, context, event)
            }
        }

        $crate::bindings::export_plugin!(__PurrPlugin with_types_in $crate::bindings);
    };
}
