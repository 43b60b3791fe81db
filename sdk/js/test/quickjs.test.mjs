// The SDK on QuickJS (componentize-qjs), played in Node: `__cqjs` is set
// and the globals QuickJS lacks are removed before the SDK loads, and the
// fake host gives QuickJS's shapes (none as null, u64 as a Number). Node
// runs each test file in its own process, so the other files see
// StarlingMonkey's shapes.

import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";

const Native = { TextEncoder: globalThis.TextEncoder, TextDecoder: globalThis.TextDecoder, console: globalThis.console };
globalThis.__cqjs = Object.freeze({});
delete globalThis.TextEncoder;
delete globalThis.TextDecoder;
delete globalThis.console;
const { sdk, host, reset, text } = await import("../testing/harness.mjs");
const engine = await import("../engine.js");
const Installed = { TextEncoder: globalThis.TextEncoder, TextDecoder: globalThis.TextDecoder, console: globalThis.console };
globalThis.console = Native.console; // the test runner's

const { Bot } = sdk;
const CONTEXT = { session: "s", eventId: "e1", selfJid: null };

beforeEach(reset);

/** What `handle` answered: the flow, or `{ err }` for what it threw (QuickJS lowers a throw to `err`). */
function handle(bot, event) {
  try {
    return bot.handler().handle(CONTEXT, event);
  } catch (thrown) {
    return { err: thrown };
  }
}

test("the SDK knows it runs on QuickJS and installs what QuickJS lacks", () => {
  assert.equal(engine.ENGINE, "quickjs");
  for (const name of ["TextEncoder", "TextDecoder", "console"]) {
    assert.ok(Installed[name], `${name} installed`);
    assert.notEqual(Installed[name], Native[name], `${name} is the SDK's`);
  }
});

test("console at build time (before the host called the plugin) is dropped, not a failed build", () => {
  Installed.console.log("top-level code");
  assert.deepEqual(host.logs, []);
  new Bot().handler().init();
  Installed.console.log("in a handler");
  assert.deepEqual(host.logs, [["info", "in a handler"]]);
});

const STRINGS = ["", "plain ascii", "héllo wörld", "€ and ✓", "emoji 😀 and 🐈‍⬛", "\u0000\u007f\u0080\u07ff\u0800\uffff", "lone \ud800 high", "lone \udc00 low", "end \ud83d", "\ud83d\ude00\ud83d"];

test("TextEncoder encodes as the native one does, lone surrogates as U+FFFD", () => {
  const ours = new Installed.TextEncoder();
  const native = new Native.TextEncoder();
  for (const s of STRINGS) assert.deepEqual(ours.encode(s), native.encode(s), JSON.stringify(s));
  assert.equal(ours.encoding, "utf-8");
  assert.deepEqual(ours.encode(), new Uint8Array(0));
});

test("TextDecoder decodes valid and invalid UTF-8 as the native one does", () => {
  const ours = new Installed.TextDecoder();
  const native = new Native.TextDecoder();
  const cases = [
    [0x68, 0x69],
    [0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80], // é € 😀
    [0xc0, 0xaf], // overlong
    [0xe0, 0x80, 0xaf], // overlong, 3 bytes
    [0xed, 0xa0, 0x80], // an encoded surrogate
    [0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
    [0xf5, 0x80],
    [0x80, 0xbf, 0x41], // stray continuation bytes
    [0xe2, 0x82], // cut short at the end
    [0xe2, 0x41, 0x82, 0xac], // cut short by an ASCII byte
    [0xf0, 0x9f, 0x98], // 4-byte sequence cut short
    [0xef, 0xbb, 0xbf, 0x41], // BOM, stripped
  ];
  for (const bytes of cases) {
    const input = new Uint8Array(bytes);
    assert.equal(ours.decode(input), native.decode(input), bytes.map((b) => b.toString(16)).join(" "));
  }
  // Random bytes, biased to the high ranges where the rules are.
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
  for (let round = 0; round < 2000; round++) {
    const input = new Uint8Array(1 + (next() % 12)).map(() => (next() % 3 === 0 ? next() % 128 : 0x80 + (next() % 128)));
    assert.equal(ours.decode(input), native.decode(input), [...input].map((b) => b.toString(16)).join(" "));
  }
  assert.equal(ours.decode(new Uint8Array(20000).fill(0x61)), "a".repeat(20000));
  assert.equal(ours.decode(new Uint8Array([0x61, 0x62]).buffer), "ab");
  assert.equal(ours.decode(), "");
});

test("TextDecoder's fatal, ignoreBOM and refused options", () => {
  assert.throws(() => new Installed.TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array([0xff])), TypeError);
  assert.equal(new Installed.TextDecoder("utf-8", { ignoreBOM: true }).decode(new Uint8Array([0xef, 0xbb, 0xbf])), "\ufeff");
  assert.throws(() => new Installed.TextDecoder("latin1"), /only utf-8/);
  assert.throws(() => new Installed.TextDecoder().decode(new Uint8Array([0x61]), { stream: true }), /streaming/);
});

test("Math.random is seeded when first used after the host called, from the clock and the first event's id", () => {
  const realNow = Date.now;
  Date.now = () => 1_800_000_000_123;
  try {
    new Bot().handler().handle({ session: "s", eventId: "j42", selfJid: null }, { tag: "started" });
    const expected = engine.randomFrom("1800000000123 j42");
    for (let i = 0; i < 5; i++) assert.equal(Math.random(), expected());
  } finally {
    Date.now = realNow;
  }
});

test("randomFrom: the same seed the same numbers, another seed others, all in [0, 1) and spread evenly", () => {
  const one = engine.randomFrom("seed one");
  const again = engine.randomFrom("seed one");
  const other = engine.randomFrom("seed two");
  const first = Array.from({ length: 8 }, one);
  assert.deepEqual(Array.from({ length: 8 }, again), first);
  assert.notDeepEqual(Array.from({ length: 8 }, other), first);
  const buckets = new Array(10).fill(0);
  for (let i = 0; i < 100_000; i++) {
    const x = one();
    assert.ok(x >= 0 && x < 1, `${x} out of range`);
    buckets[Math.floor(x * 10)]++;
  }
  for (const count of buckets) assert.ok(Math.abs(count - 10_000) < 500, `uneven: ${buckets}`);
});

test("console writes into the host log at its level, once the host called", () => {
  Installed.console.log("count", 3, { a: [1] });
  Installed.console.warn(new Error("careful"));
  assert.deepEqual(host.logs, [
    ["info", 'count 3 {"a":[1]}'],
    ["warn", "Error: careful"],
  ]);
});

test("an async handler is refused when it is registered, naming the way out", () => {
  assert.throws(() => new Bot().on("message", async () => {}), /bot\.on: an async handler cannot run here: .*"engine": "starlingmonkey"/);
  assert.throws(() => new Bot().use(async (_ctx, next) => next()), /bot\.use: an async handler/);
  assert.throws(() => new Bot().catch(async () => {}), /bot\.catch: an async handler/);
});

test("routing, kv and sends work with QuickJS's shapes; none reads as absent", () => {
  host.config = {};
  const bot = new Bot();
  const seen = [];
  bot.on("message", (ctx) => {
    seen.push([ctx.selfJid, ctx.pushName, ctx.config.get("greeting", "hi"), ctx.config.getInt("n", 5), ctx.config.getList("l", [])]);
    ctx.chatKv.set("count", ctx.chatKv.get("count", 0) + 1);
  });
  bot.command("echo", (ctx) => ctx.send(ctx.match));
  assert.equal(handle(bot, text("!echo hé")), "next");
  assert.equal(handle(bot, text("plain")), "next");
  assert.deepEqual(seen[0], [undefined, undefined, "hi", 5, []]);
  assert.equal(new Native.TextDecoder().decode(host.kv.get("chat/user@sim/count")), "2");
  assert.deepEqual(host.sent.map((s) => s.text), ["hé"]);
});

test("a failing handler's message is thrown (QuickJS makes the WIT err of it), a Promise is refused", () => {
  const bot = new Bot();
  bot.command("fail", () => {
    throw new Error("boom");
  });
  bot.command("host", (ctx) => ctx.send("x"));
  bot.command("later", () => Promise.resolve());
  assert.deepEqual(handle(bot, text("!fail")), { err: "boom" });
  host.failing = { sendText: "refused by the host" };
  assert.deepEqual(handle(bot, text("!host")), { err: "refused by the host" });
  const answer = handle(bot, text("!later"));
  assert.match(answer.err, /a handler returned a Promise: QuickJS plugins have no event loop/);
});

test("ctx.later passes its delay as a Number, as QuickJS's u64 needs", () => {
  const bot = new Bot().on("message", (ctx) => void ctx.later(1500, { remind: true }));
  assert.equal(handle(bot, text("hi")), "next");
  assert.deepEqual(host.timers.map((t) => [t.afterMs, t.payload]), [[1500, '{"remind":true}']]);
});
