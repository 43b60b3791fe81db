// ctx (sdk/js/context.js, state.js, log.js): event fields, actions, JSON
// kv scopes, config getters, timers, logging -- against the fake host.

import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { sdk, host, reset, run, text, message, media } from "../testing/harness.mjs";

const { Bot, log } = sdk;
const decoder = new TextDecoder();

beforeEach(reset);

/** Runs `fn(ctx)` as the only handler of every event; returns what handle answered. */
async function withCtx(event, fn, context) {
  return run(new Bot().on("*", fn, { own: true }), event, context);
}

function stored() {
  return Object.fromEntries([...host.kv].map(([key, value]) => [key, decoder.decode(value)]));
}

test("a message's fields, camelCase", async () => {
  let seen;
  const event = text("hello", { chat: "group1@sim", sender: "alice@sim", isGroup: true, pushName: "Alice", id: "m9" });
  await withCtx(event, (ctx) => void (seen = { ...ctx }), { session: "dev", eventId: "ev7", selfJid: "me@sim" });
  assert.equal(seen.session, "dev");
  assert.equal(seen.eventId, "ev7");
  assert.equal(seen.selfJid, "me@sim");
  assert.equal(seen.event, event);
  assert.equal(seen.message, event.val);
  assert.equal(seen.text, "hello");
  assert.equal(seen.chat, "group1@sim");
  assert.equal(seen.sender, "alice@sim");
  assert.equal(seen.fromMe, false);
  assert.equal(seen.isGroup, true);
  assert.equal(seen.id, "m9");
  assert.equal(seen.pushName, "Alice");
});

test("chat and sender of other events; a caption is not text", async () => {
  const got = [];
  const bot = new Bot().on("*", (ctx) => void got.push([ctx.event.tag, ctx.chat, ctx.sender, ctx.text]));
  await run(bot, message(media("image", "caption"), { chat: "c@sim" }));
  await run(bot, { tag: "receipt", val: { chat: "c@sim", sender: "r@sim", messageIds: [], kind: "read", timestampMs: 1n } });
  await run(bot, { tag: "chat-state", val: { chat: "c@sim", sender: "t@sim", state: "paused" } });
  await run(bot, { tag: "group-update", val: { group: "g@sim", author: "a@sim", change: { tag: "locked", val: true }, timestampMs: 1n } });
  await run(bot, { tag: "presence", val: { sender: "p@sim", available: false, lastSeenMs: 5n } });
  await run(bot, { tag: "connected", val: "me@sim" });
  assert.deepEqual(got, [
    ["message", "c@sim", "c@sim", undefined],
    ["receipt", "c@sim", "r@sim", undefined],
    ["chat-state", "c@sim", "t@sim", undefined],
    ["group-update", "g@sim", undefined, undefined],
    ["presence", undefined, "p@sim", undefined],
    ["connected", undefined, undefined, undefined],
  ]);
});

test("actions call the host with the message's chat and id", async () => {
  const event = text("hi", { chat: "c@sim", sender: "s@sim", id: "m1" });
  const ids = [];
  await withCtx(event, (ctx) => {
    ids.push(ctx.reply("quoted"), ctx.send("plain"), ctx.sendTo("other@sim", 42));
    ctx.react("👍");
    ids.push(ctx.sendMedia("document", "text bytes", "text/plain", undefined, "a.txt"));
    ids.push(ctx.sendMedia("image", new Uint8Array([1, 2]), "image/png", "cap"));
    ctx.markRead();
  });
  assert.deepEqual(ids, ["m1", "m2", "m3", "m5", "m6"]);
  const sent = host.sent.map(({ data, ...rest }) => (data ? { ...rest, data: [...data] } : rest));
  assert.deepEqual(sent, [
    { op: "reply", chat: "c@sim", quoted: "m1", text: "quoted" },
    { op: "sendText", chat: "c@sim", text: "plain" },
    { op: "sendText", chat: "other@sim", text: "42" },
    { op: "react", chat: "c@sim", target: "m1", emoji: "👍" },
    { op: "sendMedia", chat: "c@sim", kind: "document", data: [...new TextEncoder().encode("text bytes")], mime: "text/plain", caption: undefined, fileName: "a.txt" },
    { op: "sendMedia", chat: "c@sim", kind: "image", data: [1, 2], mime: "image/png", caption: "cap", fileName: undefined },
    { op: "markRead", chat: "c@sim", sender: "s@sim", ids: ["m1"] },
  ]);
});

test("download gives the media's bytes; errors for events without media or chat", async () => {
  let bytes;
  await withCtx(message(media("audio")), (ctx) => void (bytes = ctx.download()));
  assert.equal(decoder.decode(bytes), "bytes of h1");
  assert.deepEqual(await withCtx(text("x"), (ctx) => ctx.download()), { tag: "err", val: "ctx.download: this message has no media" });
  assert.deepEqual(await withCtx({ tag: "started" }, (ctx) => ctx.reply("x")), { tag: "err", val: "ctx.reply: this event is not a message" });
  assert.deepEqual(await withCtx({ tag: "started" }, (ctx) => ctx.send("x")), { tag: "err", val: "ctx.send: this event has no chat" });
  assert.deepEqual(await withCtx(text("x"), (ctx) => ctx.sendMedia("gif", "", "x")), {
    tag: "err",
    val: 'unknown media kind "gif"; known: image, video, audio, document, sticker',
  });
  assert.equal(host.sent.length, 0);
});

test("kv, chatKv and senderKv store JSON under their scopes", async () => {
  const event = text("x", { chat: "g@sim", sender: "a@sim" });
  await withCtx(event, (ctx) => {
    ctx.kv.set("n", 1);
    ctx.chatKv.set("count", 2);
    ctx.senderKv.set("prefs", { lang: "de", tags: ["a", "ü"] });
    ctx.chatKv.set("nothing", null);
  });
  assert.deepEqual(stored(), {
    n: "1",
    "chat/g@sim/count": "2",
    "chat/g@sim/nothing": "null",
    "sender/a@sim/prefs": '{"lang":"de","tags":["a","ü"]}',
  });
  let got;
  await withCtx(event, (ctx) => {
    got = {
      n: ctx.kv.get("n"),
      count: ctx.chatKv.get("count"),
      prefs: ctx.senderKv.get("prefs"),
      nothing: ctx.chatKv.get("nothing", "fallback"),
      missing: ctx.chatKv.get("missing"),
      fallback: ctx.chatKv.get("missing", 0),
      chatKeys: ctx.chatKv.keys(),
      chatKeysN: ctx.chatKv.keys("n"),
      allKeys: ctx.kv.keys(),
      deleted: [ctx.chatKv.delete("count"), ctx.chatKv.delete("count")],
      otherChat: ctx.kv.get("chat/g@sim/nothing"),
    };
  });
  assert.deepEqual(got, {
    n: 1,
    count: 2,
    prefs: { lang: "de", tags: ["a", "ü"] },
    nothing: null,
    missing: undefined,
    fallback: 0,
    chatKeys: ["count", "nothing"],
    chatKeysN: ["nothing"],
    allKeys: ["chat/g@sim/count", "chat/g@sim/nothing", "n", "sender/a@sim/prefs"],
    deleted: [true, false],
    otherChat: null,
  });
  // Another chat sees none of it.
  await withCtx(text("x", { chat: "h@sim" }), (ctx) => void (got = ctx.chatKv.keys()));
  assert.deepEqual(got, []);
});

test("kv errors: a value that is not JSON, a value JSON cannot hold, no chat", async () => {
  host.kv.set("raw", new TextEncoder().encode("not json"));
  const answer = await withCtx(text("x"), (ctx) => ctx.kv.get("raw"));
  assert.equal(answer.tag, "err");
  assert.match(answer.val, /^kv key "raw" does not hold JSON: /);
  assert.deepEqual(await withCtx(text("x"), (ctx) => ctx.kv.set("f", () => {})), {
    tag: "err",
    val: 'kv key "f": function cannot be stored as JSON',
  });
  assert.deepEqual(await withCtx({ tag: "started" }, (ctx) => ctx.chatKv.get("x")), { tag: "err", val: "ctx.chatKv: this event has no chat" });
  assert.deepEqual(await withCtx({ tag: "started" }, (ctx) => ctx.senderKv.get("x")), { tag: "err", val: "ctx.senderKv: this event has no sender" });
});

test("whole numbers are read and written as JSON would (the counter fast path)", async () => {
  const values = [0, -0, 7, 10, 123456789012345, 1234567890123456, Number.MAX_SAFE_INTEGER, 2 ** 60, -5, 1.5, 1e21, true, "12", null, [1]];
  for (const value of values) {
    await withCtx(text("x"), (ctx) => ctx.kv.set("v", value));
    assert.equal(decoder.decode(host.kv.get("v")), JSON.stringify(value), `stored bytes of ${String(value)}`);
    let read;
    await withCtx(text("x"), (ctx) => void (read = ctx.kv.get("v")));
    assert.deepEqual(read, JSON.parse(JSON.stringify(value)), `read back ${String(value)}`);
  }
  for (const stored of ["0", "42", "000", "007", "1e3", " 5", "5 ", "-0", "99999999999999999999"]) {
    host.kv.set("v", new TextEncoder().encode(stored));
    let expected;
    try {
      expected = { value: JSON.parse(stored) };
    } catch {
      expected = { tag: "err" };
    }
    let read;
    const answer = await withCtx(text("x"), (ctx) => void (read = ctx.kv.get("v")));
    if (expected.tag) assert.equal(answer.tag, "err", `${stored} is no JSON`);
    else assert.deepEqual(read, expected.value, `read ${stored}`);
  }
});

test("config getters convert, fall back, and name the key of an ill-typed value", async () => {
  host.config = {
    greeting: "hi", n: "42", big: "1_000", neg: "-7", f: "2.5", e: "1e3", inf: "-inf", yes: "true", no: "false",
    list: ["a", "1"], word: "abc",
  };
  let got;
  await withCtx(text("x"), (ctx) => {
    const c = ctx.config;
    got = [
      c.get("greeting"), c.get("missing"), c.get("missing", "d"), c.get("n"),
      c.getInt("n"), c.getInt("big"), c.getInt("neg"), c.getInt("missing", 5),
      c.getFloat("f"), c.getFloat("n"), c.getFloat("e"), c.getFloat("inf"), c.getFloat("missing", 0.5),
      c.getBool("yes"), c.getBool("no"), c.getBool("missing", true),
      c.getList("list"), c.getList("missing", []), c.keys(), c.json().list, c.all().n,
    ];
  });
  assert.deepEqual(got, [
    "hi", undefined, "d", "42", 42, 1000, -7, 5, 2.5, 42, 1000, -Infinity, 0.5, true, false, true,
    ["a", "1"], [], ["big", "e", "f", "greeting", "inf", "list", "n", "neg", "no", "word", "yes"], ["a", "1"], "42",
  ]);
  const errors = [];
  for (const call of [(c) => c.getInt("f"), (c) => c.getInt("word"), (c) => c.getFloat("word"), (c) => c.getBool("n"), (c) => c.getList("word")]) {
    errors.push((await withCtx(text("x"), (ctx) => call(ctx.config))).val);
  }
  assert.deepEqual(errors, [
    'config key "f": expected an integer, got "2.5"',
    'config key "word": expected an integer, got "abc"',
    'config key "word": expected a number, got "abc"',
    'config key "n": expected true or false, got "42"',
    'config key "word": expected an array of scalars, got "abc"',
  ]);
  // The module-level config is the same.
  assert.equal(sdk.config.get("greeting"), "hi");
});

test("timers: later encodes the payload as JSON, a timer event decodes it", async () => {
  let ids;
  await withCtx(text("x"), (ctx) => {
    ids = [ctx.later(10_000, { chat: "c@sim", text: "tea" }), ctx.later(1.7), ctx.later(5n, "s")];
  });
  assert.deepEqual(host.timers, [
    { id: ids[0], afterMs: 10000n, payload: '{"chat":"c@sim","text":"tea"}' },
    { id: ids[1], afterMs: 1n, payload: "null" },
    { id: ids[2], afterMs: 5n, payload: '"s"' },
  ]);
  let cancelled;
  await withCtx(text("x"), (ctx) => void (cancelled = [ctx.cancel(ids[1]), ctx.cancel(ids[1])]));
  assert.deepEqual(cancelled, [true, false]);
  assert.deepEqual(await withCtx(text("x"), (ctx) => ctx.later(-1)), { tag: "err", val: "ctx.later: ms must be a number >= 0, got -1" });

  const fired = [];
  const bot = new Bot().on("timer", (ctx) => void fired.push([ctx.timerId, ctx.payload]));
  await run(bot, { tag: "timer", val: { id: "t1", payload: '{"chat":"c@sim","text":"tea"}' } });
  await run(bot, { tag: "timer", val: { id: "t2", payload: "not json" } });
  assert.deepEqual(fired, [["t1", { chat: "c@sim", text: "tea" }], ["t2", "not json"]]);
});

test("log writes to the host log at each level", async () => {
  await withCtx(text("x"), (ctx) => {
    ctx.log.info("from ctx");
    log.warn("from the module");
    log.error(new Error("boom"));
    log.debug(3);
    log.trace("t");
  });
  assert.deepEqual(host.logs, [["info", "from ctx"], ["warn", "from the module"], ["error", "Error: boom"], ["debug", "3"], ["trace", "t"]]);
});
