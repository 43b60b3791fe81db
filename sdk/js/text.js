// Text rules shared by every purr SDK: trimming, command tokens, arguments.
//
// Trimming removes Unicode White_Space at both ends, exactly as Rust's
// `str::trim` does. JavaScript's own `String.prototype.trim` is not used: it
// keeps U+0085 (NEXT LINE) and strips U+FEFF (BOM), which is not White_Space.

/** Unicode White_Space (the property Rust's `char::is_whitespace` tests). */
export const WHITESPACE =
  "\t\n\v\f\r \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006" +
  "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000";

// Every White_Space char is one UTF-16 code unit, so indexing by code unit
// never splits one.
const SPACE = new Set(WHITESPACE);
const EDGES = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;

/** Whether `char` (one code unit) is a Unicode White_Space character. */
export function isSpace(char) {
  return SPACE.has(char);
}

/** `text` without Unicode White_Space at either end (Rust's `str::trim`). */
export function trim(text) {
  return text.replace(EDGES, "");
}

/**
 * Splits a command off a message text. When `text`, trimmed, starts with `/`
 * or `!` and a name that ends at the end of the text or at a White_Space
 * char, returns `[name, rest]`: `name` lowercased, `rest` what follows the
 * name and ONE White_Space char, otherwise unchanged. Otherwise `undefined`.
 */
export function commandToken(text) {
  // Most texts are no command: when the first char is neither White_Space
  // nor `/` or `!`, trimming cannot change that (saves a regex per event).
  const first = text[0];
  if (first !== "/" && first !== "!" && !SPACE.has(first)) return undefined;
  text = trim(text);
  if (text.length < 2 || (text[0] !== "/" && text[0] !== "!")) return undefined;
  let end = 1;
  while (end < text.length && !SPACE.has(text[end])) end++;
  return [text.slice(1, end).toLowerCase(), text.slice(end + 1)];
}

/**
 * Splits `text` on runs of White_Space; quotes group words. `"double"` or
 * `'single'` quotes group words and are removed; inside quotes a backslash
 * escapes the quote that opened them; an unterminated quote runs to the end.
 * `one "two words"  three` -> `["one", "two words", "three"]`.
 */
export function splitArgs(text) {
  const args = [];
  let current; // the word being read, undefined between words
  let quote; // the quote char we are inside, if any
  for (let i = 0; i < text.length; ) {
    const char = text[i++];
    if (quote !== undefined) {
      if (char === "\\" && text[i] === quote) {
        current += quote;
        i++;
      } else if (char === quote) {
        quote = undefined;
      } else {
        current += char;
      }
    } else if (SPACE.has(char)) {
      if (current !== undefined) {
        args.push(current);
        current = undefined;
      }
    } else if (char === '"' || char === "'") {
      quote = char;
      if (current === undefined) current = "";
    } else {
      current = current === undefined ? char : current + char;
    }
  }
  if (current !== undefined) args.push(current);
  return args;
}
