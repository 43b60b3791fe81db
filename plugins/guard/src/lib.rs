//! `guard`: a middleware that blocks messages with banned words.
//!
//! Setting `banned = ["word", ...]`. A text message containing one of them
//! (case-insensitive) is answered with a quoted reply `blocked` and stops
//! the chain: later plugins never see it. Everything else passes on.

use purr_sdk::{Bot, Ctx, Result};

purr_sdk::plugin!(setup);

fn setup(bot: &mut Bot) {
    bot.on("message:text", guard);
}

fn guard(ctx: &mut Ctx) -> Result {
    let text = ctx.text().unwrap_or_default().to_lowercase();
    let banned = ctx.config.get_list("banned")?.unwrap_or_default();
    if banned
        .iter()
        .any(|word| !word.is_empty() && text.contains(&word.to_lowercase()))
    {
        ctx.reply("blocked")?;
        ctx.stop();
    }
    Ok(())
}
