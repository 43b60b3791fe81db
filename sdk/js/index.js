// purr-sdk: write purr bot plugins in JavaScript.
//
//   import { Bot } from "purr-sdk";
//   const bot = new Bot();
//   bot.command("ping", (ctx) => ctx.reply("pong"));
//   export const handler = bot.handler();
//
// Modules: `bot.js` (routing), `context.js` (ctx), `state.js` (JSON kv and
// config), `text.js` (trimming, commands, arguments), `log.js`, `host.js`
// (purr's WIT imports), `engine.js` (QuickJS or StarlingMonkey, and what
// QuickJS lacks). See README.md for the reference.

export { Bot, FILTERS, errorMessage } from "./bot.js";
export { Context } from "./context.js";
export { Kv, Config, config } from "./state.js";
export { log } from "./log.js";
export { WHITESPACE, trim, isSpace, commandToken, splitArgs } from "./text.js";
