// `{{name}}`: a purr plugin in JavaScript, on purr's JS SDK (purr-sdk/,
// reference in purr-sdk/README.md; build with ./build.sh).
//
// - `!ping` (or `/ping`) -> `pong`
// - `!hello` -> the `greeting` setting (default `hello`)
//
// Code at the top level runs at build time: register routes there, call
// the host (ctx.*) only inside handlers. A handler that throws fails the
// event (the host logs the message); the session goes on.
//
// The project builds for QuickJS ("purr": { "engine": "quickjs" } in
// package.json): fast and small, handlers synchronous (every ctx call is).
// For async handlers or outbound HTTP use "starlingmonkey" instead (see
// purr-sdk/README.md).

import { Bot } from "purr-sdk";

const bot = new Bot();

bot.command("ping", (ctx) => ctx.send("pong"));
bot.command("hello", (ctx) => ctx.send(ctx.config.get("greeting", "hello")));

export const handler = bot.handler();
