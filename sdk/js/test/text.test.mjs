// Trimming, command tokens and argument splitting (sdk/js/text.js).

import { test } from "node:test";
import assert from "node:assert/strict";
import { sdk } from "../testing/harness.mjs";

const { trim, commandToken, splitArgs, isSpace, WHITESPACE } = sdk;

test("trim removes Unicode White_Space as Rust's str::trim does", () => {
  assert.equal(trim("\u0085\u00a0!ping\u3000\u2029"), "!ping");
  assert.equal(trim(" \t\n\v\f\r x \u1680\u2000\u200a\u2028\u202f\u205f"), "x");
  // Not White_Space: kept (JS's own trim would strip U+FEFF).
  assert.equal(trim("\u001c!ping"), "\u001c!ping");
  assert.equal(trim("\ufeff!ping\ufeff"), "\ufeff!ping\ufeff");
  assert.equal(trim("\u200b!ping"), "\u200b!ping"); // zero width space is not White_Space
  assert.equal(trim("a  b"), "a  b");
  assert.equal(trim("   "), "");
});

test("WHITESPACE is exactly the 25 White_Space chars", () => {
  assert.equal(WHITESPACE.length, 25);
  for (let code = 0; code < 0x10000; code++) {
    const char = String.fromCharCode(code);
    assert.equal(isSpace(char), /^\s$/u.test(char) ? code !== 0xfeff : code === 0x85, `U+${code.toString(16)}`);
  }
});

test("commandToken splits the name (lowercased) from the rest after one space", () => {
  assert.deepEqual(commandToken("!echo  two spaces  "), ["echo", " two spaces"]);
  assert.deepEqual(commandToken("!echo"), ["echo", ""]);
  assert.deepEqual(commandToken("  /Ping \t"), ["ping", ""]);
  assert.deepEqual(commandToken("!echo\u3000x y"), ["echo", "x y"]);
  assert.deepEqual(commandToken("!pingpong"), ["pingpong", ""]);
  assert.equal(commandToken("ping"), undefined);
  assert.equal(commandToken("!"), undefined);
  assert.equal(commandToken("\u001c!ping"), undefined);
});

test("splitArgs splits on runs of White_Space, quotes group words", () => {
  assert.deepEqual(splitArgs('one "two words"  three'), ["one", "two words", "three"]);
  assert.deepEqual(splitArgs("  a\u3000\u3000b\t c  "), ["a", "b", "c"]);
  assert.deepEqual(splitArgs("'single quoted' \"double\""), ["single quoted", "double"]);
  assert.deepEqual(splitArgs('"say \\"hi\\"" x'), ['say "hi"', "x"]);
  assert.deepEqual(splitArgs("'it\\'s' ok"), ["it's", "ok"]);
  assert.deepEqual(splitArgs('"a \\x b"'), ["a \\x b"], "a backslash escapes only the quote");
  assert.deepEqual(splitArgs('"unterminated runs  to the end'), ["unterminated runs  to the end"]);
  assert.deepEqual(splitArgs('"" x'), ["", "x"], "an empty quoted word is a word");
  assert.deepEqual(splitArgs('ab"c d"e f'), ["abc de", "f"]);
  assert.deepEqual(splitArgs(""), []);
  assert.deepEqual(splitArgs("   "), []);
});
