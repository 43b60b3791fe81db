// Loads the SDK against the fake host (`hooks.mjs`, `fake-host.mjs`) and
// builds the WIT values purr passes to `handle`.

import { register } from "node:module";

register("./hooks.mjs", import.meta.url);

export const sdk = await import("../index.js");
export { host, reset, ComponentError } from "./fake-host.mjs";
import { NONE, QUICKJS } from "./fake-host.mjs";

const CONTEXT = { session: "s", eventId: "e1", selfJid: "me@sim" };

let counter = 0;

/** A message event; `content` is a WIT content variant. */
export function message(content, fields = {}) {
  const chat = fields.chat ?? "user@sim";
  return {
    tag: "message",
    val: {
      id: fields.id ?? `msg-${++counter}`,
      chat,
      sender: fields.sender ?? chat,
      fromMe: fields.fromMe ?? false,
      timestampMs: QUICKJS ? 1700000000000 : 1700000000000n,
      pushName: fields.pushName ?? NONE,
      isGroup: fields.isGroup ?? false,
      quotedId: NONE,
      content,
    },
  };
}

/** A plain text message event. */
export function text(body, fields) {
  return message({ tag: "text", val: body }, fields);
}

/** A media content of `kind` with an optional caption. */
export function media(kind, caption) {
  return { tag: kind, val: { handle: "h1", mime: "image/jpeg", size: 10n, caption, fileName: undefined, seconds: undefined } };
}

/** Runs `bot` on `event` through its exported handler, as the host would; returns what `handle` answered. */
export async function run(bot, event, context = CONTEXT) {
  return await bot.handler().handle(context, event);
}

/** The texts sent (sendText and reply) since the last reset. */
export function texts(host) {
  return host.sent.filter((s) => s.op === "sendText" || s.op === "reply").map((s) => s.text);
}
