//! `{{name}}`: a purr plugin on purr-sdk (its reference is
//! `sdk/rust/README.md`; the host contract is `wit/purr.wit`).
//!
//! - `!ping` → `pong`
//! - `!hello` → the `greeting` setting (default `hello`)

use purr_sdk::Bot;

purr_sdk::plugin!(setup);

fn setup(bot: &mut Bot) {
    bot.command("ping", |ctx| ctx.send("pong"));
    bot.command("hello", |ctx| ctx.send(ctx.config.get_or("greeting", "hello")));
}
