// `dice-js`: a QuickJS plugin on the SDK, for tests/js_quickjs.rs.
//
// `!roll` -> a Math.random() number; the roll is also written with
// console.log (into the host log). Top-level console output (build time)
// is dropped, not a failed build.

import { Bot } from "purr-sdk";

console.log("building dice-js");

const bot = new Bot();
bot.command("roll", (ctx) => {
  const roll = String(Math.random());
  console.log("rolled", roll);
  ctx.send(roll);
});

export const handler = bot.handler();
