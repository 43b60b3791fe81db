// `echo-js`: the `echo` example bot in JavaScript, built with componentize-js.
//
// Same behaviour as the Rust `plugins/echo`:
// - `!ping` -> `pong`
// - `!echo <text>` -> `<text>`
// - `!count` -> how many messages this plugin has seen in this chat of this
//   session, this one included (kept in kv under `count/<chat>`)
// - `!hello` -> the `greeting` setting (default `hello`)
// Other messages get no answer; messages this account sent itself are ignored.
//
// WIT mapping (componentize-js): an import returning `result<T, string>`
// returns T or throws; an exported function returns its `ok` value, and a
// throw becomes `err`. Variants are `{ tag, val }`, enums are strings,
// `option<T>` is T or undefined, `list<u8>` a Uint8Array, `u64` a BigInt.

import { sendText } from "purr:bot/messaging@0.1.0";
import { get as kvGet, set as kvSet } from "purr:bot/kv@0.1.0";
import { get as configGet } from "purr:bot/config@0.1.0";

// Unicode White_Space, as Rust's `str::trim` uses it (JS's own `trim` differs:
// it keeps U+0085 and strips U+FEFF).
const EDGE_SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Counts one more message in `chat`; returns the new count. */
function countMessage(chat) {
  const key = `count/${chat}`;
  const stored = kvGet(key);
  const digits = stored === undefined ? "" : decoder.decode(stored);
  // Digits only (a leading `+` allowed); anything else counts as 0.
  const seen = (/^\+?[0-9]+$/.test(digits) ? Number(digits) : 0) + 1;
  kvSet(key, encoder.encode(String(seen)));
  return seen;
}

function textOf(content) {
  switch (content.tag) {
    case "text":
      return content.val;
    case "extended-text":
      return content.val.text;
    default:
      return undefined;
  }
}

function answer(message) {
  const seen = countMessage(message.chat);
  const raw = textOf(message.content);
  if (raw === undefined) return;
  const text = raw.replace(EDGE_SPACE, "");
  let reply;
  if (text === "!ping") reply = "pong";
  else if (text.startsWith("!echo ")) reply = text.slice("!echo ".length);
  else if (text === "!count") reply = String(seen);
  else if (text === "!hello") reply = configGet("greeting") ?? "hello";
  else return;
  sendText(message.chat, reply);
}

export const handler = {
  init() {},
  handle(_ctx, event) {
    if (event.tag === "message" && !event.val.fromMe) answer(event.val);
    return "next";
  },
};
