// The JS engine a plugin runs on, and the globals plugins expect that
// QuickJS lacks: `TextEncoder` / `TextDecoder` (UTF-8 only), `console`
// (into the host log) and a `Math.random` seeded per instance rather than
// at build time. Under StarlingMonkey nothing is installed.
//
// A plugin is built for one engine (`"purr": { "engine": ... }` in its
// package.json): QuickJS (componentize-qjs: small, fast calls, no event loop
// and no `fetch`) or StarlingMonkey (componentize-js: `async` handlers,
// `fetch`, the full web API set). The SDK hides where their bindings differ:
// QuickJS gives a WIT `option` as `null` (StarlingMonkey: `undefined`) and
// a `u64` as a Number (StarlingMonkey: a BigInt, and a BigInt passed to
// QuickJS traps), and an export's `result` error is thrown, not returned.

import { log as host } from "./host.js";

/** `"quickjs"` or `"starlingmonkey"`: componentize-qjs installs `__cqjs`. */
export const ENGINE = globalThis.__cqjs !== undefined ? "quickjs" : "starlingmonkey";

/** What a `u64` import argument must be on this engine: a BigInt, or a Number under QuickJS. */
export function u64(value) {
  return ENGINE === "quickjs" ? Number(value) : BigInt(value);
}

/** `text` as UTF-8; a lone surrogate becomes U+FFFD (as `TextEncoder` does). */
export function encodeUtf8(text) {
  const s = String(text);
  const out = new Uint8Array(s.length * 3); // a UTF-16 unit never needs more
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      out[n++] = c;
      continue;
    }
    if (c < 0x800) {
      out[n++] = 0xc0 | (c >> 6);
      out[n++] = 0x80 | (c & 0x3f);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const low = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && low >= 0xdc00 && low <= 0xdfff) {
        const point = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
        i++;
        out[n++] = 0xf0 | (point >> 18);
        out[n++] = 0x80 | ((point >> 12) & 0x3f);
        out[n++] = 0x80 | ((point >> 6) & 0x3f);
        out[n++] = 0x80 | (point & 0x3f);
        continue;
      }
      c = 0xfffd;
    }
    out[n++] = 0xe0 | (c >> 12);
    out[n++] = 0x80 | ((c >> 6) & 0x3f);
    out[n++] = 0x80 | (c & 0x3f);
  }
  return out.slice(0, n);
}

/** The bytes of a BufferSource (a typed array, DataView or ArrayBuffer). */
function bytesOf(input) {
  if (input === undefined) return new Uint8Array(0);
  if (input instanceof Uint8Array) return input;
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  throw new TypeError("TextDecoder.decode: the input must be an ArrayBuffer, a typed array or a DataView");
}

/**
 * UTF-8 `bytes` as text, by the WHATWG decoder's rules: each invalid
 * sequence becomes one U+FFFD, or throws a TypeError when `fatal`.
 */
export function decodeUtf8(input, fatal = false) {
  const bytes = bytesOf(input);
  const units = [];
  let text = "";
  let point = 0;
  let needed = 0;
  let seen = 0;
  let lower = 0x80;
  let upper = 0xbf;
  const invalid = () => {
    if (fatal) throw new TypeError("The encoded data was not valid utf-8");
    units.push(0xfffd);
  };
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (needed === 0) {
      if (b < 0x80) units.push(b);
      else if (b >= 0xc2 && b <= 0xdf) {
        needed = 1;
        point = b & 0x1f;
      } else if (b >= 0xe0 && b <= 0xef) {
        if (b === 0xe0) lower = 0xa0;
        if (b === 0xed) upper = 0x9f;
        needed = 2;
        point = b & 0xf;
      } else if (b >= 0xf0 && b <= 0xf4) {
        if (b === 0xf0) lower = 0x90;
        if (b === 0xf4) upper = 0x8f;
        needed = 3;
        point = b & 0x7;
      } else invalid();
    } else if (b < lower || b > upper) {
      // The sequence ends before this byte, which starts over.
      point = needed = seen = 0;
      lower = 0x80;
      upper = 0xbf;
      invalid();
      i--;
    } else {
      lower = 0x80;
      upper = 0xbf;
      point = (point << 6) | (b & 0x3f);
      if (++seen === needed) {
        if (point > 0xffff) {
          point -= 0x10000;
          units.push(0xd800 + (point >> 10), 0xdc00 + (point & 0x3ff));
        } else units.push(point);
        point = needed = seen = 0;
      }
    }
    if (units.length >= 8192) {
      text += String.fromCharCode.apply(null, units);
      units.length = 0;
    }
  }
  if (needed !== 0) invalid();
  return text + String.fromCharCode.apply(null, units);
}

/** The part of the WHATWG `TextEncoder` QuickJS plugins get: `encode`. */
class Utf8Encoder {
  get encoding() {
    return "utf-8";
  }

  encode(text = "") {
    return encodeUtf8(text);
  }
}

/** The part of the WHATWG `TextDecoder` QuickJS plugins get: UTF-8, `fatal`, `ignoreBOM`, no streaming. */
class Utf8Decoder {
  constructor(label = "utf-8", options = {}) {
    if (!["utf-8", "utf8", "unicode-1-1-utf-8"].includes(String(label).trim().toLowerCase())) {
      throw new RangeError(`TextDecoder: only utf-8 is available in a QuickJS plugin, not ${JSON.stringify(label)}`);
    }
    this.fatal = options.fatal === true;
    this.ignoreBOM = options.ignoreBOM === true;
  }

  get encoding() {
    return "utf-8";
  }

  decode(input, options) {
    if (options?.stream) throw new TypeError("TextDecoder: streaming decode is not available in a QuickJS plugin");
    const text = decodeUtf8(input, this.fatal);
    return !this.ignoreBOM && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  }
}

/** One console argument as text: strings as they are, errors with their message, the rest as JSON when it can be. */
function show(value) {
  if (typeof value === "string") return value;
  if (value instanceof Error) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

// Top-level code runs at build time, where the host's imports do not exist
// (calling one fails the build): console output before the host first
// called the plugin is dropped.
let hostCalled = false;
let firstEventId = "";

/** Notes that the host called the plugin (the Bot's `init` and `handle` say so, `handle` with the event's id). */
export function hostCalledUs(context) {
  hostCalled = true;
  if (firstEventId === "" && typeof context?.eventId === "string") firstEventId = context.eventId;
}

/**
 * A Math.random-like generator (xoshiro128**, 53-bit results in [0, 1))
 * seeded from `seed`'s text: the same text gives the same sequence.
 */
export function randomFrom(seed) {
  let hash = 0x811c9dc5; // FNV-1a, then splitmix32 to fill the state
  for (let i = 0; i < seed.length; i++) hash = Math.imul(hash ^ seed.charCodeAt(i), 0x01000193);
  const mix = () => {
    hash = (hash + 0x9e3779b9) | 0;
    let z = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = mix();
  let b = mix();
  let c = mix();
  let d = mix();
  const next = () => {
    const b5 = Math.imul(b, 5);
    const result = Math.imul((b5 << 7) | (b5 >>> 25), 9) >>> 0; // rotl(b * 5, 7) * 9
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = (d << 11) | (d >>> 21);
    return result;
  };
  return () => ((next() >>> 6) * 134217728 + (next() >>> 5)) / 9007199254740992;
}

/**
 * QuickJS seeds Math.random from the clock when its context is made, and
 * that is at build time: every instance made from the snapshot would give
 * the same numbers. Under QuickJS Math.random is this instead: seeded on
 * its first use after the host called, from the clock and the first
 * event's id (build-time calls get QuickJS's own).
 */
function perInstanceRandom() {
  const snapshotted = Math.random;
  let random;
  return () => {
    if (random === undefined) {
      if (!hostCalled) return snapshotted();
      random = randomFrom(`${Date.now()} ${firstEventId}`);
    }
    return random();
  };
}

function consoleWriter(level) {
  return (...values) => {
    if (hostCalled) host.log(level, values.map(show).join(" "));
  };
}

if (ENGINE === "quickjs") {
  Math.random = perInstanceRandom();
  globalThis.TextEncoder ??= Utf8Encoder;
  globalThis.TextDecoder ??= Utf8Decoder;
  globalThis.console ??= Object.freeze({
    log: consoleWriter("info"),
    info: consoleWriter("info"),
    debug: consoleWriter("debug"),
    trace: consoleWriter("trace"),
    warn: consoleWriter("warn"),
    error: consoleWriter("error"),
  });
}
