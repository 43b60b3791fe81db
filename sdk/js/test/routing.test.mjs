// Routing (sdk/js/bot.js): filter queries, commands, hears, middleware,
// stop, own messages, errors -- through the exported `handler`, as the host
// calls it.

import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { sdk, host, reset, run, text, message, media, texts } from "../testing/harness.mjs";

const { Bot, FILTERS } = sdk;

beforeEach(reset);

/** One sample event of every kind, by the filter query naming exactly it. */
const SAMPLES = {
  "message:text": text("hi"),
  "message:image": message(media("image", "a caption")),
  "message:video": message(media("video")),
  "message:audio": message(media("audio")),
  "message:document": message(media("document")),
  "message:sticker": message(media("sticker")),
  "message:location": message({ tag: "location", val: { latitude: 1, longitude: 2, name: undefined, address: undefined } }),
  "message:contact": message({ tag: "contact", val: { displayName: "A", vcard: "BEGIN:VCARD" } }),
  "message:reaction": message({ tag: "reaction", val: { targetId: "m1", emoji: "👍" } }),
  "message:unknown": message({ tag: "unknown", val: "poll" }),
  receipt: { tag: "receipt", val: { chat: "user@sim", sender: "user@sim", messageIds: ["m1"], kind: "read", timestampMs: 1n } },
  presence: { tag: "presence", val: { sender: "user@sim", available: true, lastSeenMs: undefined } },
  "chat-state": { tag: "chat-state", val: { chat: "user@sim", sender: "user@sim", state: "composing" } },
  "group-update": { tag: "group-update", val: { group: "g@sim", author: undefined, change: { tag: "subject", val: "x" }, timestampMs: 1n } },
  started: { tag: "started" },
  qr: { tag: "qr", val: { code: "2@abc", expiresInMs: 20000n } },
  "pair-code": { tag: "pair-code", val: "ABCD-EFGH" },
  connected: { tag: "connected", val: "me@sim" },
  disconnected: { tag: "disconnected", val: "reset" },
  "logged-out": { tag: "logged-out", val: "unlinked" },
  timer: { tag: "timer", val: { id: "t1", payload: '{"a":1}' } },
};

/** The sample kinds `filter` matches. */
async function matched(filter) {
  const seen = [];
  for (const [kind, event] of Object.entries(SAMPLES)) {
    const bot = new Bot().on(filter, () => void seen.push(kind));
    assert.equal(await run(bot, event), "next");
  }
  return seen;
}

test("every filter query matches exactly its events", async () => {
  const all = Object.keys(SAMPLES);
  const messages = all.filter((k) => k.startsWith("message:"));
  assert.deepEqual(await matched("*"), all);
  assert.deepEqual(await matched("message"), messages);
  assert.deepEqual(await matched("message:media"), [
    "message:image", "message:video", "message:audio", "message:document", "message:sticker",
  ]);
  for (const kind of all) assert.deepEqual(await matched(kind), [kind], kind);
  assert.deepEqual(await matched(["timer", "qr"]), ["qr", "timer"], "a list is any of them");
  assert.deepEqual(Object.keys(FILTERS).sort(), [...all, "*", "message", "message:media"].sort());
});

test("extended text is text, a media caption is not", async () => {
  const seen = [];
  const bot = new Bot().on("message:text", (ctx) => void seen.push(ctx.text));
  await run(bot, message({ tag: "extended-text", val: { text: "with preview", previewUrl: "https://x", previewTitle: undefined } }));
  await run(bot, message(media("image", "!ping")));
  assert.deepEqual(seen, ["with preview"]);
});

test("an unknown filter query throws at registration, naming it and the known ones", () => {
  const bot = new Bot();
  assert.throws(() => bot.on("message:txt", () => {}), (error) => {
    assert.match(error.message, /unknown filter query "message:txt"/);
    assert.match(error.message, /known: .*message:text.*timer/);
    return true;
  });
  assert.throws(() => bot.on(["message", "mesage"], () => {}), /"mesage"/);
  assert.throws(() => bot.on([], () => {}), /empty filter list/);
  assert.throws(() => bot.on("message"), /must be a function/);
  assert.equal(bot.routes.length, 0, "nothing registered");
});

test("commands: / or !, trimmed, case-insensitive, aliases, whole token", async () => {
  const seen = [];
  const bot = new Bot()
    .command("ping", (ctx) => void seen.push(["ping", ctx.command, ctx.match, ctx.args]))
    .command(["echo", "Say"], (ctx) => void seen.push(["echo", ctx.command, ctx.match, ctx.args]));
  for (const body of [
    "!ping", "/ping", "  !Ping \t", "\u0085\u00a0!PING\u3000\u2029", "!pingpong", "ping", "\u001c!ping",
    "\ufeff!ping", "!echo  two spaces  ", "/say hi", "/SAY", "!echo", "!echo\u3000a 'b c'",
  ]) {
    await run(bot, text(body));
  }
  assert.deepEqual(seen, [
    ["ping", "ping", "", []],
    ["ping", "ping", "", []],
    ["ping", "ping", "", []],
    ["ping", "ping", "", []],
    ["echo", "echo", " two spaces", ["two", "spaces"]],
    ["echo", "say", "hi", ["hi"]],
    ["echo", "say", "", []],
    ["echo", "echo", "", []],
    ["echo", "echo", "a 'b c'", ["a", "b c"]],
  ]);
});

test("command arguments: quotes group words, extra spaces vanish", async () => {
  let args;
  const bot = new Bot().command("args", (ctx) => void (args = ctx.args));
  await run(bot, text('/args one "two words"  three'));
  assert.deepEqual(args, ["one", "two words", "three"]);
  await run(bot, text("/args   'a b'\t\t\"c \\\"d\\\"\"   "));
  assert.deepEqual(args, ["a b", 'c "d"']);
});

test("a command only matches text messages", async () => {
  let calls = 0;
  const bot = new Bot().command("ping", () => void calls++);
  await run(bot, message(media("image", "!ping")));
  await run(bot, SAMPLES.timer);
  await run(bot, message({ tag: "extended-text", val: { text: "!ping", previewUrl: undefined, previewTitle: undefined } }));
  assert.equal(calls, 1);
});

test("invalid command names throw at registration", () => {
  const bot = new Bot();
  assert.throws(() => bot.command("/ping", () => {}), /invalid command name "\/ping"/);
  assert.throws(() => bot.command("two words", () => {}), /invalid command name/);
  assert.throws(() => bot.command("", () => {}), /invalid command name/);
  assert.throws(() => bot.command([], () => {}), /no command name/);
});

test("hears: a regex searched in the untrimmed text, ctx.match holds the captures", async () => {
  const seen = [];
  const bot = new Bot()
    .hears(/^(?:hi|hello),?\s+(\w+)/i, (ctx) => void seen.push(ctx.match[1]))
    .hears("(?<n>\\d+) cats", (ctx) => void seen.push(ctx.match.groups.n))
    .hears(/x/g, () => void seen.push("x"));
  for (const body of ["Hello, Ann", "hi bob and more", " hi carl", "oh hi dan", "I have 3 cats", "x", "x", "no"]) {
    await run(bot, text(body));
  }
  assert.deepEqual(seen, ["Ann", "bob", "3", "x", "x"], "a leading space fails ^; a global regex keeps no state");
  assert.throws(() => new Bot().hears(42, () => {}), /RegExp or a string/);
  assert.throws(() => new Bot().hears("(", () => {}), SyntaxError);
});

test("routes run in registration order; all matching ones run unless one stops", async () => {
  const order = [];
  const bot = new Bot()
    .use(async (ctx, next) => {
      order.push("mw1 in");
      await next();
      order.push("mw1 out");
    })
    .on("message", () => void order.push("on message"))
    .command("stop", (ctx) => {
      order.push("stop");
      ctx.stop();
    })
    .on("message:text", () => void order.push("on text"))
    .use((ctx, next) => {
      order.push("mw2");
      return next();
    })
    .on("*", () => void order.push("on *"));
  assert.equal(await run(bot, text("plain")), "next");
  assert.deepEqual(order, ["mw1 in", "on message", "on text", "mw2", "on *", "mw1 out"]);
  order.length = 0;
  assert.equal(await run(bot, text("!stop")), "stop");
  assert.deepEqual(order, ["mw1 in", "on message", "stop", "mw1 out"]);
  order.length = 0;
  assert.equal(await run(bot, SAMPLES.receipt), "next");
  assert.deepEqual(order, ["mw1 in", "mw2", "on *", "mw1 out"]);
});

test("a middleware that does not call next stops routing: flow stop", async () => {
  const order = [];
  const bot = new Bot()
    .use((ctx, next) => {
      order.push("guard");
      if (ctx.text !== "secret") return next();
    })
    .on("message", () => void order.push("later"));
  assert.equal(await run(bot, text("secret")), "stop");
  assert.deepEqual(order, ["guard"]);
  assert.equal(await run(bot, text("open")), "next");
  assert.deepEqual(order, ["guard", "guard", "later"]);
});

test("an async middleware may call next late; next runs the rest once", async () => {
  const order = [];
  const bot = new Bot()
    .use(async (ctx, next) => {
      await Promise.resolve();
      order.push("before");
      await next();
      await next(); // a second call does not run the routes again
      order.push("after");
    })
    .on("message", async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      order.push("handler");
    });
  assert.equal(await run(bot, text("x")), "next");
  assert.deepEqual(order, ["before", "handler", "after"]);
});

test("a sync middleware that calls next without awaiting still waits for async routes", async () => {
  const order = [];
  const bot = new Bot()
    .use((ctx, next) => {
      next();
      order.push("mw returned");
    })
    .on("message", async (ctx) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      order.push("handler");
      ctx.stop();
    });
  assert.equal(await run(bot, text("x")), "stop", "the stop of the async route counts");
  assert.deepEqual(order, ["mw returned", "handler"]);
});

test("handlers that are all synchronous answer synchronously", () => {
  const bot = new Bot().use((ctx, next) => next()).command("ping", (ctx) => ctx.reply("pong"));
  const answer = bot.handler().handle({ session: "s", eventId: "e", selfJid: undefined }, text("!ping"));
  assert.equal(answer, "next");
  assert.deepEqual(texts(host), ["pong"]);
});

test("async handlers are awaited in order, and their stop counts", async () => {
  const order = [];
  const bot = new Bot()
    .on("message", async () => {
      await new Promise((resolve) => setTimeout(resolve, 2));
      order.push("slow");
    })
    .on("message", async (ctx) => {
      order.push("second");
      ctx.stop();
    })
    .on("message", () => void order.push("never"));
  assert.equal(await run(bot, text("x")), "stop");
  assert.deepEqual(order, ["slow", "second"]);
});

test("messages this account sent are skipped unless a route opts in with { own: true }", async () => {
  const seen = [];
  const bot = new Bot()
    .use((ctx, next) => {
      seen.push("mw");
      return next();
    })
    .on("message", () => void seen.push("on"))
    .command("ping", () => void seen.push("command"))
    .hears(/ping/, () => void seen.push("hears"))
    .on("message", () => void seen.push("own on"), { own: true })
    .command("ping", () => void seen.push("own command"), { own: true });
  assert.equal(await run(bot, text("!ping", { fromMe: true })), "next");
  assert.deepEqual(seen, ["own on", "own command"]);
  seen.length = 0;
  await run(bot, text("!ping"));
  assert.deepEqual(seen, ["mw", "on", "command", "hears", "own on", "own command"]);
});

test("an error out of a handler answers WIT err with its message", async () => {
  const bot = new Bot()
    .command("throw", () => {
      throw new Error("thrown on purpose");
    })
    .command("reject", async () => {
      throw new TypeError("rejected on purpose");
    })
    .command("string", () => {
      throw "a string";
    })
    .command("send", (ctx) => ctx.send("x"));
  assert.deepEqual(await run(bot, text("!throw")), { tag: "err", val: "thrown on purpose" });
  assert.deepEqual(await run(bot, text("!reject")), { tag: "err", val: "rejected on purpose" });
  assert.deepEqual(await run(bot, text("!string")), { tag: "err", val: "a string" });
  host.failing.sendText = "rate limited: 60 sends per minute";
  assert.deepEqual(await run(bot, text("!send")), { tag: "err", val: "rate limited: 60 sends per minute" }, "a host error too");
});

test("an error in the routes after next() reaches the middleware, which may handle it", async () => {
  const caught = [];
  const bot = new Bot()
    .use(async (ctx, next) => {
      try {
        await next();
      } catch (error) {
        caught.push(error.message);
      }
    })
    .on("message", async () => {
      throw new Error("deep");
    });
  assert.equal(await run(bot, text("x")), "next");
  assert.deepEqual(caught, ["deep"]);

  const unobserved = new Bot()
    .use((ctx, next) => void next())
    .on("message", async () => {
      throw new Error("not awaited, still reported");
    });
  assert.deepEqual(await run(unobserved, text("x")), { tag: "err", val: "not awaited, still reported" });
});

test("bot.catch handles errors instead; what it throws fails the event", async () => {
  const caught = [];
  const bot = new Bot()
    .command("oops", () => {
      throw new Error("oops");
    })
    .command("worse", async () => {
      throw new Error("worse");
    })
    .catch((error, ctx) => {
      caught.push([error.message, ctx.text]);
      if (error.message === "worse") throw new Error("catch failed too");
      ctx.reply("sorry");
    });
  assert.equal(await run(bot, text("!oops")), "next");
  assert.deepEqual(await run(bot, text("!worse")), { tag: "err", val: "catch failed too" });
  assert.deepEqual(caught, [["oops", "!oops"], ["worse", "!worse"]]);
  assert.deepEqual(texts(host), ["sorry"]);
});

test("the exported handler has init and handle", async () => {
  const handler = new Bot().handler();
  assert.equal(handler.init(), undefined);
  assert.equal(await handler.handle({ session: "s", eventId: "e", selfJid: undefined }, SAMPLES.started), "next");
});
