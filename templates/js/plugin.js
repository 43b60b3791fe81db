// `{{name}}`: a purr plugin in JavaScript (see wit/purr.wit for everything it can do).
//
// - `!ping` -> `pong`
// - `!hello` -> the `greeting` setting (default `hello`)
//
// Imports returning `result<T, string>` return T or throw; `handle` returns
// its `ok` value. A throw out of `handle` traps the instance: the event
// fails, the next one gets a fresh instance.

import { sendText } from "purr:bot/messaging@0.1.0";
import { get as configGet } from "purr:bot/config@0.1.0";

export const handler = {
  init() {},
  handle(_ctx, event) {
    if (event.tag !== "message" || event.val.fromMe || event.val.content.tag !== "text") return "next";
    const text = event.val.content.val.trim();
    let reply;
    if (text === "!ping") reply = "pong";
    else if (text === "!hello") reply = configGet("greeting") ?? "hello";
    else return "next";
    sendText(event.val.chat, reply);
    return "next";
  },
};
