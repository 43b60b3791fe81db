//! `hostile`: a test plugin that misbehaves on command, to prove that
//! purr's sandbox contains it. Each command is one text message:
//!
//! | command | misbehaviour |
//! |---|---|
//! | `loop` | spins forever (the deadline must stop it) |
//! | `bomb` | allocates until memory runs out (the memory cap must stop it) |
//! | `recurse` | recurses without end (stack overflow trap) |
//! | `unreachable` | executes `unreachable` |
//! | `oob` | reads far outside its linear memory |
//! | `flood <n>` | sends `n` messages in one event; stores in kv `flood` how many were accepted and the first refusal |
//! | `kv-flood` | writes 1 KiB values until refused; answers with the count and the refusal |
//! | `timer-flood` | schedules timers until refused; answers with the count and the refusal |
//! | `big-timer <bytes>` | schedules a timer an hour away carrying `bytes` bytes; answers `scheduled` or the refusal |
//! | `remind <ms> <text>` | schedules a timer in `ms` ms; when it fires, sends `text` to this chat |
//! | `big-text <bytes>` | sends a text of `bytes` bytes; answers `sent` or the refusal |
//! | `big-kv <bytes>` | stores a kv value of `bytes` bytes; answers `stored` or the refusal |
//! | `log-line <bytes>` | logs one record of `bytes` bytes (`x`…`x` between `<<` and `>>`); answers `logged` |
//! | `log-flood <n> <bytes>` | logs `n` records of `bytes` bytes each; answers `logged` |
//! | `print-flood <n> <bytes>` | prints `n` lines of `bytes` bytes each to stderr; answers `printed` |
//! | `ok` | answers `alive` (a well-behaved event) |
//! | `busy <ms> <text>` | works for `ms` milliseconds, then answers `text` (a slow plugin) |

wit_bindgen::generate!({ path: "../../../wit", world: "purr:bot/plugin", generate_all });

use exports::purr::bot::handler::{Context, Event, Flow, Guest};
use purr::bot::types::Content;
use purr::bot::{kv, log, messaging, timers};

struct Hostile;

impl Guest for Hostile {
    fn init() -> Result<(), String> {
        Ok(())
    }

    fn handle(_ctx: Context, event: Event) -> Result<Flow, String> {
        if let Event::Timer(fired) = &event {
            // `remind` payloads: the chat, a newline, the text.
            if let Some((chat, text)) = fired.payload.split_once('\n') {
                messaging::send_text(chat, text)?;
            }
            return Ok(Flow::Next);
        }
        let Event::Message(message) = event else {
            return Ok(Flow::Next);
        };
        let Content::Text(text) = &message.content else {
            return Ok(Flow::Next);
        };
        let chat = &message.chat;
        let (verb, rest) = text.split_once(' ').unwrap_or((text, ""));
        match verb {
            "loop" => spin(),
            "bomb" => bomb(),
            "recurse" => {
                recurse(0);
            }
            // On wasm, abort is the `unreachable` instruction.
            "unreachable" => std::process::abort(),
            "oob" => {
                // Far beyond any memory a plugin may have: an out-of-bounds trap.
                let far = 0xffff_fff0usize as *const u8;
                let byte = unsafe { core::ptr::read_volatile(far) };
                messaging::send_text(chat, &format!("read {byte}"))?;
            }
            "flood" => {
                let n: u32 = rest.parse().map_err(|_| format!("bad count {rest:?}"))?;
                let (sent, refusal) = until_refused(n, |i| messaging::send_text(chat, &format!("flood {i}")).map(drop));
                kv::set("flood", format!("{sent} {refusal}").as_bytes())?;
            }
            "kv-flood" => {
                let value = vec![b'x'; 1024];
                let (stored, refusal) = until_refused(u32::MAX, |i| kv::set(&format!("junk/{i:08}"), &value));
                messaging::send_text(chat, &format!("{stored} {refusal}"))?;
            }
            "timer-flood" => {
                let (scheduled, refusal) = until_refused(u32::MAX, |_| timers::schedule(3_600_000, "flood").map(drop));
                messaging::send_text(chat, &format!("{scheduled} {refusal}"))?;
            }
            "big-timer" => {
                let payload = "x".repeat(count(rest)?);
                let answer = timers::schedule(3_600_000, &payload).map(|_| "scheduled".to_string());
                messaging::send_text(chat, &answer.unwrap_or_else(|refusal| refusal))?;
            }
            "remind" => {
                let (ms, text) = rest.split_once(' ').unwrap_or((rest, ""));
                let ms: u64 = ms.parse().map_err(|_| format!("bad duration {ms:?}"))?;
                timers::schedule(ms, &format!("{chat}\n{text}"))?;
            }
            "big-text" => {
                let text = "x".repeat(count(rest)?);
                let answer = messaging::send_text(chat, &text).map(|_| "sent".to_string());
                messaging::send_text(chat, &answer.unwrap_or_else(|refusal| refusal))?;
            }
            "big-kv" => {
                let value = vec![b'x'; count(rest)?];
                let answer = kv::set("big", &value).map(|_| "stored".to_string());
                messaging::send_text(chat, &answer.unwrap_or_else(|refusal| refusal))?;
            }
            "log-line" => {
                log::log(log::Level::Warn, &format!("<<{}>>", "x".repeat(count(rest)?)));
                messaging::send_text(chat, "logged")?;
            }
            "log-flood" => {
                let (n, bytes) = rest.split_once(' ').unwrap_or((rest, ""));
                let line = "y".repeat(count(bytes)?);
                for _ in 0..count(n)? {
                    log::log(log::Level::Warn, &line);
                }
                messaging::send_text(chat, "logged")?;
            }
            "print-flood" => {
                let (n, bytes) = rest.split_once(' ').unwrap_or((rest, ""));
                let line = "z".repeat(count(bytes)?);
                for _ in 0..count(n)? {
                    eprintln!("{line}");
                }
                messaging::send_text(chat, "printed")?;
            }
            "ok" => {
                messaging::send_text(chat, "alive")?;
            }
            "busy" => {
                let (ms, answer) = rest.split_once(' ').unwrap_or((rest, ""));
                let ms: u64 = ms.parse().map_err(|_| format!("bad duration {ms:?}"))?;
                let until = std::time::Instant::now() + std::time::Duration::from_millis(ms);
                while std::time::Instant::now() < until {
                    core::hint::black_box(0);
                }
                messaging::send_text(chat, answer)?;
            }
            _ => {}
        }
        Ok(Flow::Next)
    }
}

fn count(text: &str) -> Result<usize, String> {
    text.parse().map_err(|_| format!("bad count {text:?}"))
}

/// Calls `attempt` up to `n` times until it fails; returns the successes and the refusal.
fn until_refused(n: u32, mut attempt: impl FnMut(u32) -> Result<(), String>) -> (u32, String) {
    for i in 0..n {
        if let Err(refusal) = attempt(i) {
            return (i, refusal);
        }
    }
    (n, "(none)".to_string())
}

fn spin() -> ! {
    let mut x: u64 = 0;
    loop {
        x = core::hint::black_box(x.wrapping_add(1));
    }
}

fn bomb() {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; 1 << 20];
        chunk[0] = 1;
        hoard.push(core::hint::black_box(chunk));
    }
}

/// Small frames kept in wasm locals: exhausts the engine's call stack
/// (not the program's shadow stack in linear memory).
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    core::hint::black_box(recurse(core::hint::black_box(depth + 1))) + 1
}

export!(Hostile);
