//! `remind`: the example bot of the Rust SDK (the same bot as
//! `plugins/remind-js` and `plugins/remind-py`; `tests/sdk_examples.rs`
//! drives all three with one conversation).
//!
//! - every message (not from this account) is counted per chat;
//! - `/count` → `this chat has seen N messages` (quoting the message);
//! - `/remind 10s tea` → a timer; when it fires, `⏰ tea` in that chat;
//! - `/args a "b c" d` → `3 args: a | b c | d`;
//! - `hi Ann` / `hello, Ann` → `hello, Ann!`.

use purr_sdk::serde_json::{Value, json};
use purr_sdk::{Bot, Ctx, Flow, Result};

purr_sdk::plugin!(setup);

const USAGE: &str = "usage: /remind <10s|5m|2h> <text>";

fn setup(bot: &mut Bot) {
    bot.middleware(count);
    bot.command("count", |ctx| {
        let count: u64 = ctx.chat_kv().get_or("count", 0)?;
        ctx.reply(format!("this chat has seen {count} messages"))
    });
    bot.command("remind", remind);
    bot.on("timer", remind_now);
    bot.command("args", |ctx| match ctx.args() {
        [] => ctx.reply("0 args:"),
        args => ctx.reply(format!("{} args: {}", args.len(), args.join(" | "))),
    });
    bot.hears(r"(?i)^(?:hi|hello),?\s+(\w+)", |ctx| {
        ctx.reply(format!("hello, {}!", ctx.capture(1).unwrap_or_default()))
    });
}

/// Counts every message per chat, then passes it on.
fn count(ctx: &mut Ctx) -> Result<Flow> {
    if ctx.message().is_some() {
        let kv = ctx.chat_kv();
        kv.set("count", &(kv.get_or::<u64>("count", 0)? + 1))?;
    }
    Ok(Flow::Next)
}

fn remind(ctx: &mut Ctx) -> Result {
    let (Some(duration), text) = (ctx.args().first(), ctx.args().get(1..).unwrap_or_default().join(" ")) else {
        ctx.reply(USAGE)?;
        return Ok(());
    };
    match milliseconds(duration) {
        Some(ms) if !text.is_empty() => {
            ctx.later(ms, &json!({ "chat": ctx.chat(), "text": text }))?;
            ctx.reply(format!("ok, I will remind you in {duration}: {text}"))?;
        }
        _ => {
            ctx.reply(USAGE)?;
        }
    }
    Ok(())
}

/// `<digits>(ms|s|m|h)` in milliseconds.
fn milliseconds(duration: &str) -> Option<u64> {
    let digits = duration.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = duration.split_at(digits);
    let unit = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    number.parse::<u64>().ok()?.checked_mul(unit)
}

fn remind_now(ctx: &mut Ctx) -> Result {
    let payload: Value = ctx.payload()?;
    let (Some(chat), Some(text)) = (payload["chat"].as_str(), payload["text"].as_str()) else {
        return Err(format!("timer payload without chat or text: {payload}").into());
    };
    ctx.send_to(chat, format!("⏰ {text}"))?;
    Ok(())
}
