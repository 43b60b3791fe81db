// `fetch-js`: outbound HTTP from a JavaScript plugin, for the host's
// wasi:http tests. For every text message:
//
// - `GET <url>` -> `<status> <body>` (the SDK's `purr-sdk/http`)
// - `POST <url> <body...>` -> POSTs the rest of the line (text/plain),
//   answers `<status> <body>`
// - `FETCH <url>` -> the same as GET with the global `fetch`
//   (componentize-js's `http` feature; its errors do not name the cause)
// - any error -> `error: <message>` (`error: HTTP request denied`, ...)

import { Bot, trim, isSpace } from "purr-sdk";
import * as http from "purr-sdk/http";

const bot = new Bot();

/** `[word, rest]`: the first White_Space-separated word of `text` and the rest, trimmed. */
function word(text) {
  let end = 0;
  while (end < text.length && !isSpace(text[end])) end++;
  return [text.slice(0, end), trim(text.slice(end))];
}

bot.on("message:text", async (ctx) => {
  const [method, rest] = word(trim(ctx.text));
  if (!["GET", "POST", "FETCH"].includes(method) || rest === "") return;
  const [url, body] = word(rest);
  try {
    if (method === "FETCH") {
      const response = await fetch(url);
      ctx.send(`${response.status} ${await response.text()}`);
      return;
    }
    const response =
      method === "GET" ? http.get(url) : http.post(url, body, { headers: { "content-type": "text/plain" } });
    ctx.send(`${response.status} ${response.text()}`);
  } catch (error) {
    ctx.send(`error: ${error.message}`);
  }
});

export const handler = bot.handler();
