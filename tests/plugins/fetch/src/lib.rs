//! `fetch`: outbound HTTP from a Rust plugin (`purr_sdk::http`), for the
//! host's `wasi:http` tests. For every text message:
//!
//! - `GET <url>` → `<status> <body>`
//! - `POST <url> <body...>` → POSTs the rest of the line (`text/plain`),
//!   answers `<status> <body>`
//! - any error → `error: <message>`

use purr_sdk::http::{self, Request, Response};
use purr_sdk::{Bot, Ctx, Result};

purr_sdk::plugin!(setup);

fn setup(bot: &mut Bot) {
    bot.on("message:text", fetch);
}

fn fetch(ctx: &mut Ctx) -> Result {
    let text = ctx.text().unwrap_or_default();
    let (verb, rest) = word(text);
    let (url, body) = word(rest);
    let response = match verb {
        _ if url.is_empty() => return Ok(()),
        "GET" => http::get(url),
        "POST" => Request::post(url)
            .header("content-type", "text/plain")
            .body(body)
            .send(),
        _ => return Ok(()),
    };
    let answer = response.and_then(|response: Response| Ok(format!("{} {}", response.status, response.text()?)));
    match answer {
        Ok(answer) => ctx.send(answer)?,
        Err(error) => ctx.send(format!("error: {error}"))?,
    };
    Ok(())
}

/// The first word of `text` (after leading spaces) and the rest after the
/// spaces that follow it.
fn word(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    let end = text.find(char::is_whitespace).unwrap_or(text.len());
    (&text[..end], text[end..].trim_start())
}
