//! `echo`: the example bot.
//!
//! - `!ping` → `pong`
//! - `!echo <text>` → `<text>`
//! - `!count` → how many messages this plugin has seen in this chat of this
//!   session, this one included (kept in kv, so it survives restarts)
//! - `!hello` → the `greeting` setting (default `hello`)
//!
//! Commands also work with `/` and in any case (`/PING`). Other messages get
//! no answer. Messages this account sent itself are ignored (the SDK skips
//! them), so the bot never talks to itself.

use purr_sdk::{Bot, Ctx, Flow, Result};

purr_sdk::plugin!(setup);

fn setup(bot: &mut Bot) {
    bot.middleware(count);
    bot.command("ping", |ctx| ctx.send("pong"));
    bot.command("echo", |ctx| match ctx.matched() {
        "" => Ok(()),
        text => ctx.send(text).map(drop),
    });
    bot.command("count", |ctx| {
        let seen: u64 = ctx.chat_kv().get_or("count", 0)?;
        ctx.send(seen.to_string())
    });
    bot.command("hello", |ctx| ctx.send(ctx.config.get_or("greeting", "hello")));
}

/// Counts every message in its chat before any command runs.
fn count(ctx: &mut Ctx) -> Result<Flow> {
    if ctx.message().is_some() {
        let kv = ctx.chat_kv();
        kv.set("count", &(kv.get_or::<u64>("count", 0)? + 1))?;
    }
    Ok(Flow::Next)
}
