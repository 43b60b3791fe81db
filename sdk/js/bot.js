// `Bot`: routes tried in registration order for every event, and the
// `handler` export componentize-js needs (`export const handler = bot.handler()`).
//
// A route handler takes `ctx`; a middleware (`use`) takes `(ctx, next)`.
// Handlers may be async. Messages this account sent itself are skipped by
// every route registered without `{ own: true }`. An error thrown out of a
// handler makes `handle` answer WIT `err` with the error's message (unless
// `bot.catch` handles it).

import { Context } from "./context.js";
import { ENGINE, hostCalledUs } from "./engine.js";
import { isSpace, splitArgs } from "./text.js";

const MEDIA = ["image", "video", "audio", "document", "sticker"];
const CONTENTS = ["text", ...MEDIA, "location", "contact", "reaction", "unknown"];
const OTHERS = [
  "receipt", "presence", "chat-state", "group-update",
  "started", "qr", "pair-code", "connected", "disconnected", "logged-out", "timer",
];

/** Filter query -> the event kinds it matches (null: every event). */
export const FILTERS = Object.freeze({
  message: CONTENTS.map((c) => `message:${c}`),
  ...Object.fromEntries(CONTENTS.map((c) => [`message:${c}`, [`message:${c}`]])),
  "message:media": MEDIA.map((m) => `message:${m}`),
  ...Object.fromEntries(OTHERS.map((name) => [name, [name]])),
  "*": null,
});

/** Message content tag -> the kind of a message with that content. */
const MESSAGE_KINDS = new Map([...CONTENTS.map((c) => [c, `message:${c}`]), ["extended-text", "message:text"]]);

/** The kind of an event: the filter query naming exactly it. */
function kindOf(event) {
  if (event.tag !== "message") return event.tag;
  const tag = event.val.content.tag;
  return MESSAGE_KINDS.get(tag) ?? `message:${tag}`;
}

/** The kinds a filter query (or array of queries) matches; null = all. */
function kindsOf(filter, what) {
  const queries = Array.isArray(filter) ? filter : [filter];
  if (queries.length === 0) throw new Error(`${what}: empty filter list`);
  const kinds = new Set();
  for (const query of queries) {
    if (typeof query !== "string" || !Object.hasOwn(FILTERS, query)) {
      throw new Error(`${what}: unknown filter query ${JSON.stringify(query)}; known: ${Object.keys(FILTERS).join(", ")}`);
    }
    if (FILTERS[query] === null) return null;
    for (const kind of FILTERS[query]) kinds.add(kind);
  }
  return kinds;
}

function commandNames(name) {
  const names = Array.isArray(name) ? name : [name];
  if (names.length === 0) throw new Error("bot.command: no command name");
  return names.map((n) => {
    if (typeof n !== "string" || n === "" || n[0] === "/" || n[0] === "!" || [...n].some(isSpace)) {
      throw new Error(`bot.command: invalid command name ${JSON.stringify(n)} (give it without / or !, no spaces)`);
    }
    return n.toLowerCase();
  });
}

const NO_EVENT_LOOP =
  'QuickJS plugins have no event loop (every purr call is synchronous: drop "async"), ' +
  'or build the plugin for StarlingMonkey ("purr": { "engine": "starlingmonkey" } in package.json)';

function checkHandler(handler, what) {
  if (typeof handler !== "function") throw new TypeError(`${what}: the handler must be a function, got ${typeof handler}`);
  if (ENGINE === "quickjs" && handler.constructor.name === "AsyncFunction") {
    throw new TypeError(`${what}: an async handler cannot run here: ${NO_EVENT_LOOP}`);
  }
}

function isThenable(value) {
  return value !== null && typeof value === "object" && typeof value.then === "function";
}

/** The message of anything thrown: `Error.message`, else the value as a string. */
export function errorMessage(error) {
  if (error instanceof Error) return error.message || String(error);
  return String(error);
}

const TEXT_KINDS = new Set(["message:text"]);
const DONE = Promise.resolve();
const ignore = () => {};

/**
 * The routes of a plugin. Register them at module level (that runs at build
 * time: an invalid registration fails the build), then export the bot with
 * `export const handler = bot.handler()`.
 */
export class Bot {
  constructor() {
    this.routes = [];
    this._catch = undefined;
    this._byKind = new Map(); // kind -> the routes that may match it, in order
  }

  _add(kinds, test, handler, middleware, options, what) {
    checkHandler(handler, what);
    this.routes.push({ kinds, test, handler, middleware, own: options?.own === true });
    this._byKind.clear();
    return this;
  }

  /** The routes whose filter matches `kind`, in registration order (computed once per kind). */
  _routesFor(kind) {
    let routes = this._byKind.get(kind);
    if (routes === undefined) {
      routes = this.routes.filter((route) => route.kinds === null || route.kinds.has(kind));
      this._byKind.set(kind, routes);
    }
    return routes;
  }

  /**
   * Runs `handler(ctx)` for events matching `filter`: a filter query
   * (`"message:text"`, `"timer"`, `"*"`, ...) or an array of them (any).
   * An unknown query throws here, at build time.
   */
  on(filter, handler, options) {
    return this._add(kindsOf(filter, "bot.on"), null, handler, false, options, "bot.on");
  }

  /**
   * Runs `handler(ctx)` for a text message that starts with `/name` or
   * `!name` (case-insensitive; `name` may be an array of aliases), with
   * `ctx.command`, `ctx.match` (the rest) and `ctx.args` set.
   */
  command(name, handler, options) {
    const names = commandNames(name);
    const test = (ctx) => {
      const token = ctx._token === null ? ctx._commandToken() : ctx._token;
      if (token === undefined || !names.includes(token[0])) return false;
      ctx.command = token[0];
      ctx.match = token[1];
      ctx.args = splitArgs(token[1]);
      return true;
    };
    return this._add(TEXT_KINDS, test, handler, false, options, "bot.command");
  }

  /**
   * Runs `handler(ctx)` when the regex `pattern` (a RegExp or a string
   * compiled as one) is found in the text of a text message (untrimmed);
   * `ctx.match` is the RegExpMatchArray.
   */
  hears(pattern, handler, options) {
    let regex;
    if (pattern instanceof RegExp) {
      // A global or sticky regex keeps state between calls: drop those flags.
      regex = /[gy]/.test(pattern.flags) ? new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, "")) : pattern;
    } else if (typeof pattern === "string") {
      regex = new RegExp(pattern);
    } else {
      throw new TypeError(`bot.hears: the pattern must be a RegExp or a string, got ${typeof pattern}`);
    }
    const test = (ctx) => {
      const found = regex.exec(ctx.text);
      if (found === null) return false;
      ctx.match = found;
      return true;
    };
    return this._add(TEXT_KINDS, test, handler, false, options, "bot.hears");
  }

  /**
   * Runs `middleware(ctx, next)` for every event at its place in the route
   * order: `await next()` runs the later routes; not calling it stops
   * routing for this event (the plugin answers `flow::stop`).
   */
  use(middleware, options) {
    return this._add(null, null, middleware, true, options, "bot.use");
  }

  /**
   * Calls `handler(error, ctx)` for an error out of any route instead of
   * failing the event; what it throws fails the event.
   */
  catch(handler) {
    checkHandler(handler, "bot.catch");
    this._catch = handler;
    return this;
  }

  // ------------------------------------------------------------ dispatch
  /**
   * Runs the routes from `start` on. Stays synchronous while every handler
   * is: returns undefined when done, or a Promise when a handler returned
   * one (the rest then runs once it settles).
   */
  _run(ctx, kind, start) {
    const routes = this._routesFor(kind);
    for (let index = start; index < routes.length; index++) {
      if (ctx.stopped) return undefined;
      const route = routes[index];
      if (ctx.fromMe && !route.own) continue;
      if (route.test !== null && !route.test(ctx)) continue;
      if (route.middleware) {
        let called = false;
        let observed = false; // whether the middleware awaited (or chained on) next()
        let rest; // what the later routes returned: undefined, or a Promise
        const later = () => {
          observed = true;
          return rest;
        };
        const next = () => {
          if (!called) {
            called = true;
            rest = this._run(ctx, kind, index + 1);
          }
          if (rest === undefined) return DONE;
          // A thenable that notes being awaited: an error of the later
          // routes the middleware awaited is the middleware's to handle.
          return {
            then: (ok, fail) => later().then(ok, fail),
            catch: (fail) => later().catch(fail),
            finally: (done) => later().finally(done),
          };
        };
        const settle = () => {
          if (!called) ctx.stopped = true;
          if (rest === undefined) return undefined;
          return observed ? rest.then(ignore, ignore) : rest;
        };
        const result = route.handler(ctx, next);
        // `return next()` over synchronous routes stays synchronous.
        return result !== DONE && isThenable(result) ? Promise.resolve(result).then(settle) : settle();
      }
      const result = route.handler(ctx);
      if (result !== undefined && isThenable(result)) return Promise.resolve(result).then(() => this._run(ctx, kind, index + 1));
    }
    return undefined;
  }

  _fail(error, ctx) {
    if (this._catch === undefined) return { tag: "err", val: errorMessage(error) };
    let result;
    try {
      result = this._catch(error, ctx);
    } catch (failed) {
      return { tag: "err", val: errorMessage(failed) };
    }
    if (isThenable(result)) {
      return Promise.resolve(result).then(
        () => (ctx.stopped ? "stop" : "next"),
        (failed) => ({ tag: "err", val: errorMessage(failed) }),
      );
    }
    return ctx.stopped ? "stop" : "next";
  }

  /**
   * Handles one event: the WIT `handle`. Returns the flow (`"next"` or
   * `"stop"`), `{ tag: "err", val: message }` for an error, or a Promise of
   * either when a handler is async.
   */
  dispatch(context, event) {
    const ctx = new Context(context, event);
    let result;
    try {
      result = this._run(ctx, kindOf(event), 0);
    } catch (error) {
      return this._fail(error, ctx);
    }
    if (result !== undefined) {
      return result.then(
        () => (ctx.stopped ? "stop" : "next"),
        (error) => this._fail(error, ctx),
      );
    }
    return ctx.stopped ? "stop" : "next";
  }

  /** The object to export as the plugin's handler: `export const handler = bot.handler()`. */
  handler() {
    if (ENGINE === "quickjs") {
      // QuickJS lowers an export's `result` from what it returns (ok) or
      // throws (err), and cannot wait for a Promise.
      return {
        init: hostCalledUs,
        handle: (context, event) => {
          hostCalledUs(context);
          const result = this.dispatch(context, event);
          if (typeof result === "string") return result;
          if (isThenable(result)) throw `a handler returned a Promise: ${NO_EVENT_LOOP}`;
          throw result.val;
        },
      };
    }
    return {
      init() {},
      handle: (context, event) => this.dispatch(context, event),
    };
  }
}
