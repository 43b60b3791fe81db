// purr's imports (WIT package purr:bot@0.1.1) in one place.
//
// Both engines' toolchains turn each imported WIT interface into an ES
// module named `purr:bot/<interface>@<version>`; the build keeps these
// specifiers external. How WIT values look in JS: an import returning
// `result<T, string>` returns T or throws an Error whose message is the
// host's error; variants are `{ tag, val }`, enums strings, `list<u8>` a
// Uint8Array; `option<T>` is T or undefined (StarlingMonkey) / null
// (QuickJS), `u64` a BigInt (StarlingMonkey) / a Number (QuickJS): see
// engine.js.

import * as messaging from "purr:bot/messaging@0.1.1";
import * as kv from "purr:bot/kv@0.1.1";
import * as config from "purr:bot/config@0.1.1";
import * as timers from "purr:bot/timers@0.1.1";
import * as log from "purr:bot/log@0.1.1";

export { messaging, kv, config, timers, log };
