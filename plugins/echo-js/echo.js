// `echo-js`: the `echo` example bot in JavaScript, on purr's JS SDK
// (`sdk/js`, imported as `purr-sdk`; scripts/build-plugins bundles it).
//
// Same behaviour as the Rust `plugins/echo`:
// - `!ping` -> `pong`
// - `!echo <text>` -> `<text>`
// - `!count` -> how many messages this plugin has seen in this chat of this
//   session, this one included (a JSON number in the chat's kv)
// - `!hello` -> the `greeting` setting (default `hello`)
// Other messages get no answer; messages this account sent itself are
// skipped by every route (the SDK's default), so they are not even counted.

import { Bot } from "purr-sdk";

const bot = new Bot();

// Every message counts, media included; routing goes on to the commands.
bot.on("message", (ctx) => {
  ctx.chatKv.set("count", ctx.chatKv.get("count", 0) + 1);
});

bot.command("ping", (ctx) => ctx.send("pong"));
bot.command("echo", (ctx) => {
  if (ctx.match !== "") ctx.send(ctx.match);
});
bot.command("count", (ctx) => ctx.send(String(ctx.chatKv.get("count"))));
bot.command("hello", (ctx) => ctx.send(ctx.config.get("greeting", "hello")));

export const handler = bot.handler();
