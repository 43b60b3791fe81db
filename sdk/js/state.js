// State and settings: JSON values in the plugin's kv store (`Kv`, scoped to
// the session, a chat or a sender) and the plugin's config table (`Config`).

import "./engine.js"; // TextEncoder and TextDecoder under QuickJS
import { config as hostConfig, kv as hostKv } from "./host.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The value of `raw` when it is the JSON of a non-negative integer of at
 * most 15 digits (ASCII digits, no leading zero: what JSON.stringify makes
 * of one), else undefined. Counters are the common kv value; reading them
 * this way skips the text decoding and the JSON parser.
 */
function wholeNumber(raw) {
  const length = raw.length;
  if (length === 0 || length > 15 || (raw[0] === 0x30 && length > 1)) return undefined;
  let value = 0;
  for (let i = 0; i < length; i++) {
    const digit = raw[i] - 0x30;
    if (digit < 0 || digit > 9) return undefined;
    value = value * 10 + digit;
  }
  return value;
}

/** The bytes of `text`, which holds only ASCII. */
function ascii(text) {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/**
 * JSON values in the host kv under `prefix` (`""`, `chat/<chat>/` or
 * `sender/<sender>/`); keys are given and returned without the prefix.
 * Values are stored as UTF-8 JSON text. Writes made while handling an event
 * are rolled back when the event fails.
 */
export class Kv {
  constructor(prefix = "") {
    this.prefix = prefix;
  }

  /** The decoded value of `key`, or `fallback` when it is not set. */
  get(key, fallback) {
    const raw = hostKv.get(this.prefix + key);
    if (raw == null) return fallback; // none: undefined (StarlingMonkey) or null (QuickJS)
    const number = wholeNumber(raw);
    if (number !== undefined) return number;
    const text = decoder.decode(raw);
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new Error(`kv key "${this.prefix + key}" does not hold JSON: ${error.message}`);
    }
  }

  /** Stores `value` (anything `JSON.stringify` encodes) under `key`. */
  set(key, value) {
    // A safe non-negative integer's JSON is its decimal digits (-0 too: "0").
    if (Number.isSafeInteger(value) && value >= 0) return void hostKv.set(this.prefix + key, ascii(String(value)));
    const text = JSON.stringify(value);
    if (text === undefined) {
      throw new TypeError(`kv key "${this.prefix + key}": ${typeof value} cannot be stored as JSON`);
    }
    hostKv.set(this.prefix + key, encoder.encode(text));
  }

  /** Removes `key`; returns whether it was set. */
  delete(key) {
    return hostKv.delete(this.prefix + key);
  }

  /** The keys that start with `prefix`, in ascending order (without the scope). */
  keys(prefix = "") {
    const skip = this.prefix.length;
    return hostKv.listKeys(this.prefix + prefix).map((key) => key.slice(skip));
  }
}

const INTEGER = /^[+-]?[0-9]+(?:_[0-9]+)*$/;
const FLOAT = /^[+-]?(?:[0-9]+(?:_[0-9]+)*)(?:\.[0-9]+(?:_[0-9]+)*)?(?:[eE][+-]?[0-9]+(?:_[0-9]+)*)?$/;
const SPECIAL = { inf: Infinity, "+inf": Infinity, "-inf": -Infinity, nan: NaN, "+nan": NaN, "-nan": NaN };

/**
 * The plugin's settings (its `config` table, with the session's overrides).
 * A value present but of the wrong type throws an Error naming the key; a
 * missing one gives `fallback`.
 */
export class Config {
  /** The value as a string (numbers and booleans in their TOML spelling, arrays and tables as JSON), or `fallback`. */
  get(key, fallback) {
    return hostConfig.get(key) ?? fallback;
  }

  /** The value as an integer (a Number), or `fallback`. */
  getInt(key, fallback) {
    const value = hostConfig.get(key);
    if (value == null) return fallback;
    const number = INTEGER.test(value) ? Number(value.replaceAll("_", "")) : NaN;
    if (!Number.isSafeInteger(number)) {
      throw new Error(`config key "${key}": expected an integer, got ${JSON.stringify(value)}`);
    }
    return number;
  }

  /** The value as a number (integers too; TOML's `inf` and `nan` as well), or `fallback`. */
  getFloat(key, fallback) {
    const value = hostConfig.get(key);
    if (value == null) return fallback;
    if (Object.hasOwn(SPECIAL, value)) return SPECIAL[value];
    if (!FLOAT.test(value)) {
      throw new Error(`config key "${key}": expected a number, got ${JSON.stringify(value)}`);
    }
    return Number(value.replaceAll("_", ""));
  }

  /** The value as a boolean (`true`/`false`), or `fallback`. */
  getBool(key, fallback) {
    const value = hostConfig.get(key);
    if (value == null) return fallback;
    if (value === "true") return true;
    if (value === "false") return false;
    throw new Error(`config key "${key}": expected true or false, got ${JSON.stringify(value)}`);
  }

  /** The value as an array of strings (an array of scalars), or `fallback`. */
  getList(key, fallback) {
    const list = hostConfig.getList(key);
    if (list != null) return list;
    const value = hostConfig.get(key);
    if (value == null) return fallback;
    throw new Error(`config key "${key}": expected an array of scalars, got ${JSON.stringify(value)}`);
  }

  /** The names of all settings, in ascending order. */
  keys() {
    return hostConfig.keys();
  }

  /** The whole table, decoded from JSON. */
  json() {
    return JSON.parse(hostConfig.allJson());
  }

  /** The whole table (same as `json()`). */
  all() {
    return this.json();
  }
}

/** The plugin's settings; also `ctx.config`. */
export const config = new Config();
