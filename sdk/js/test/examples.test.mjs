// The JS plugins of this repository that are built on the SDK, run against
// the fake host: plugins/remind-js and plugins/echo-js.

import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { register } from "node:module";
import { host, reset, message, media, text, texts } from "../testing/harness.mjs";

// The plugins import "purr-sdk": resolve it to this SDK.
register("data:text/javascript," + encodeURIComponent(`
export async function resolve(specifier, context, next) {
  if (specifier === "purr-sdk") return { url: ${JSON.stringify(new URL("../index.js", import.meta.url).href)}, shortCircuit: true };
  return next(specifier, context);
}`));

const remind = (await import("../../../plugins/remind-js/remind.js")).handler;
const echo = (await import("../../../plugins/echo-js/echo.js")).handler;

beforeEach(reset);

const CONTEXT = { session: "s", eventId: "e", selfJid: "me@sim" };

async function say(handler, body, fields) {
  const before = host.sent.length;
  const answer = await handler.handle(CONTEXT, typeof body === "string" ? text(body, fields) : body);
  assert.equal(answer, "next", typeof body === "string" ? body : body.tag);
  return texts({ sent: host.sent.slice(before) });
}

test("remind-js: counting, /count, /args, hello", async () => {
  assert.deepEqual(await say(remind, "/count"), ["this chat has seen 1 messages"]);
  assert.deepEqual(await say(remind, "something"), []);
  assert.deepEqual(await say(remind, "!count", { fromMe: true }), [], "own messages: not counted, not answered");
  await say(remind, { tag: "receipt", val: { chat: "user@sim", sender: "user@sim", messageIds: [], kind: "read", timestampMs: 1n } });
  assert.deepEqual(await say(remind, message(media("image", "/count"))), []);
  assert.deepEqual(await say(remind, "!Count"), ["this chat has seen 4 messages"]);
  assert.deepEqual(await say(remind, "/count", { chat: "other@sim" }), ["this chat has seen 1 messages"]);
  assert.deepEqual(await say(remind, '/args one "two words"  three'), ["3 args: one | two words | three"]);
  assert.deepEqual(await say(remind, "/args"), ["0 args:"]);
  assert.deepEqual(await say(remind, "/args   "), ["0 args:"]);
  assert.deepEqual(await say(remind, "hello, Ann"), ["hello, Ann!"]);
  assert.deepEqual(await say(remind, "HI Jürgen, how are you"), ["hello, Jürgen!"]);
  assert.deepEqual(await say(remind, "oh hi Bob"), []);
  assert.equal(host.sent.filter((s) => s.op === "reply").length, host.sent.length, "all replies");
});

test("remind-js: /remind schedules a timer that sends the text to the chat", async () => {
  assert.deepEqual(await say(remind, "/remind 10s  tea  time", { chat: "g@sim" }), ["ok, I will remind you in 10s: tea time"]);
  assert.deepEqual(host.timers.map((t) => [t.afterMs, JSON.parse(t.payload)]), [[10000n, { chat: "g@sim", text: "tea time" }]]);
  for (const [duration, ms] of [["5m", 300000n], ["2h", 7200000n], ["250ms", 250n], ["0s", 0n]]) {
    await say(remind, `/remind ${duration} x`);
    assert.equal(host.timers.at(-1).afterMs, ms, duration);
  }
  for (const bad of ["/remind", "/remind 10s", "/remind 10 tea", "/remind 10x tea", "/remind s tea", "/remind 1.5s tea", "/remind 10S tea", "/remind 99999999999999999999h x"]) {
    assert.deepEqual(await say(remind, bad), ["usage: /remind <10s|5m|2h> <text>"], bad);
  }
  assert.equal(host.timers.length, 5, "no timer for a bad /remind");
  const before = host.sent.length;
  await remind.handle(CONTEXT, { tag: "timer", val: { id: host.timers[0].id, payload: host.timers[0].payload } });
  assert.deepEqual(host.sent.slice(before), [{ op: "sendText", chat: "g@sim", text: "⏰ tea time" }]);
});

test("echo-js on the SDK: the conformance conversation", async () => {
  host.config = { greeting: "hi from config" };
  const steps = [
    ["!ping", ["pong"]],
    ["!echo hello world", ["hello world"]],
    ["  !ping \t", ["pong"]],
    ["!echo  two spaces  ", [" two spaces"]],
    ["!echo", []],
    ["!pingpong", []],
    ["plain text", []],
    ["!hello", ["hi from config"]],
    ["!count", ["9"]],
    ["\u0085\u00a0!ping\u3000\u2029", ["pong"]],
    ["\u001c!ping", []],
    ["!echo ünïcödé 🐱 ", ["ünïcödé 🐱"]],
  ];
  for (const [body, want] of steps) assert.deepEqual(await say(echo, body), want, JSON.stringify(body));
  assert.deepEqual(await say(echo, "!ping", { fromMe: true }), []);
  assert.deepEqual(await say(echo, message({ tag: "extended-text", val: { text: "!echo with preview", previewUrl: "https://x", previewTitle: undefined } })), ["with preview"]);
  assert.deepEqual(await say(echo, message(media("image", "!ping"))), []);
  assert.deepEqual(await say(echo, "!count", { chat: "group1@sim", sender: "alice@sim", isGroup: true }), ["1"]);
  assert.deepEqual(await say(echo, "!count"), ["15"]);
  assert.ok(host.sent.every((s) => s.op === "sendText"), "echo sends plain texts");
});
