// `remind-js`: the SDK example bot in JavaScript (same as `plugins/remind`
// in Rust and `plugins/remind-py`).
//
// - every message (not from this account) is counted per chat;
// - `/count` -> `this chat has seen N messages`;
// - `/remind 10s tea` -> a timer; when it fires, `⏰ tea` in that chat;
// - `/args a "b c" d` -> `3 args: a | b c | d`;
// - `hi Ann` / `hello, Ann` -> `hello, Ann!`.

import { Bot } from "purr-sdk";

const bot = new Bot();
/** @type {Record<string, bigint>} */
const UNITS = { ms: 1n, s: 1000n, m: 60000n, h: 3600000n };
const DURATION = /^([0-9]+)(ms|s|m|h)$/;
const USAGE = "usage: /remind <10s|5m|2h> <text>";

// A middleware: runs for every event (messages from this account skipped).
bot.use((ctx, next) => {
  if (ctx.message) ctx.chatKv.set("count", ctx.chatKv.get("count", 0) + 1);
  return next();
});

bot.command("count", (ctx) => {
  ctx.reply(`this chat has seen ${ctx.chatKv.get("count", 0)} messages`);
});

bot.command("remind", (ctx) => {
  const [duration, ...words] = ctx.args;
  const found = DURATION.exec(duration ?? "");
  const text = words.join(" ");
  const ms = found ? BigInt(found[1]) * UNITS[found[2]] : 0n;
  if (!found || text === "" || ms >= 2n ** 64n) return ctx.reply(USAGE);
  ctx.later(ms, { chat: ctx.chat, text });
  ctx.reply(`ok, I will remind you in ${duration}: ${text}`);
});

bot.on("timer", (ctx) => {
  ctx.sendTo(ctx.payload.chat, `⏰ ${ctx.payload.text}`);
});

bot.command("args", (ctx) => {
  ctx.reply(ctx.args.length ? `${ctx.args.length} args: ${ctx.args.join(" | ")}` : "0 args:");
});

// The name: a run of anything but White_Space and ASCII punctuation, so
// "Jürgen" is one word as in Rust's and Python's Unicode `\w` (JS's `\w` is
// ASCII only, and StarlingMonkey, one of the two JS engines, has no `\p{...}`
// classes).
bot.hears(/^(?:hi|hello),?\s+([^\s!-\/:-@[-^`{-~]+)/i, (ctx) => {
  ctx.reply(`hello, ${ctx.match[1]}!`);
});

export const handler = bot.handler();
