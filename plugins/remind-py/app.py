"""`remind-py`: the SDK example bot in Python (same as `plugins/remind` in
Rust and `plugins/remind-js`).

- every message (not from this account) is counted per chat;
- `/count` -> `this chat has seen N messages`;
- `/remind 10s tea` -> a timer; when it fires, `⏰ tea` in that chat;
- `/args a "b c" d` -> `3 args: a | b c | d`;
- `hi Ann` / `hello, Ann` -> `hello, Ann!`.
"""

import re

from purr_sdk import Bot

bot = Bot()
UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}
DURATION = re.compile(r"([0-9]+)(ms|s|m|h)")
USAGE = "usage: /remind <10s|5m|2h> <text>"


@bot.use
def count(ctx, next):
    if ctx.message is not None:
        ctx.chat_kv.set("count", ctx.chat_kv.get("count", 0) + 1)
    next()


@bot.command("count")
def show_count(ctx):
    ctx.reply(f"this chat has seen {ctx.chat_kv.get('count', 0)} messages")


@bot.command("remind")
def remind(ctx):
    duration = DURATION.fullmatch(ctx.args[0]) if ctx.args else None
    text = " ".join(ctx.args[1:])
    ms = int(duration[1]) * UNITS[duration[2]] if duration else 0
    if duration is None or not text or ms >= 2**64:
        ctx.reply(USAGE)
        return
    ctx.later(ms, {"chat": ctx.chat, "text": text})
    ctx.reply(f"ok, I will remind you in {ctx.args[0]}: {text}")


@bot.on("timer")
def fire(ctx):
    ctx.send_to(ctx.payload["chat"], f"⏰ {ctx.payload['text']}")


@bot.command("args")
def args(ctx):
    listed = " | ".join(ctx.args)
    ctx.reply(f"{len(ctx.args)} args: {listed}" if ctx.args else "0 args:")


@bot.hears(r"(?i)^(?:hi|hello),?\s+(\w+)")
def hello(ctx):
    ctx.reply(f"hello, {ctx.match[1]}!")


Handler = bot.handler()
