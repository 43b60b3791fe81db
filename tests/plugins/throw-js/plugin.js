// `throw-js`: a JavaScript plugin that throws, for the conformance test.
//
// `!throw` -> throws an Error out of `handle` (the event must fail and the
// session go on); `!ping` -> `pong`; anything else: nothing.

import { sendText } from "purr:bot/messaging@0.1.1";

export const handler = {
  init() {},
  handle(_ctx, event) {
    if (event.tag !== "message" || event.val.fromMe || event.val.content.tag !== "text") return "next";
    const text = event.val.content.val;
    if (text === "!throw") throw new Error("thrown on purpose");
    if (text === "!ping") sendText(event.val.chat, "pong");
    return "next";
  },
};
