//! What [`plugin!`](crate::plugin) expands to calls: the bot is built once
//! per instance (in `init`), then every event is dispatched to it.

use std::cell::OnceCell;

use crate::{Bot, Context, Ctx, Event, Flow};

pub use std::string::String;

thread_local! {
    /// The bot of this instance, or why `setup` failed.
    static BOT: OnceCell<Result<Bot, String>> = const { OnceCell::new() };
}

/// Runs `f` on the bot, built by `setup` on first use.
fn with_bot<T>(setup: fn(&mut Bot), f: impl FnOnce(&Bot) -> Result<T, String>) -> Result<T, String> {
    BOT.with(|cell| {
        let built = cell.get_or_init(|| {
            let mut bot = Bot::new();
            setup(&mut bot);
            bot.check().map(|()| bot).map_err(|error| error.to_string())
        });
        match built {
            Ok(bot) => f(bot),
            Err(error) => Err(error.clone()),
        }
    })
}

/// The WIT `init`: builds the bot; an error in `setup` (an unknown filter
/// query, a bad regex, ...) fails it.
pub fn init(setup: fn(&mut Bot)) -> Result<(), String> {
    with_bot(setup, |_| Ok(()))
}

/// The WIT `handle`.
pub fn handle(setup: fn(&mut Bot), context: Context, event: Event) -> Result<Flow, String> {
    with_bot(setup, |bot| {
        bot.dispatch(&mut Ctx::new(context, event))
            .map_err(|error| error.to_string())
    })
}
