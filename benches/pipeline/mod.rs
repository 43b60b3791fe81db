//! The sim pipeline the throughput benchmarks drive: several sessions fed
//! concurrently with `!echo <n>` messages, an `echo` plugin (Rust unless
//! said otherwise, or [`NativeEcho`] in its place), until every reply
//! reached the sim network, the store SQLite (or a PostgreSQL database,
//! [`events_per_second_on`]). Shared by `throughput.rs` and `bridge.rs`
//! (each bench target includes it with `#[path]`), and by `latency.rs` and
//! `shadow.rs` for its config and [`open_loop`] (latency at a fixed load).

#![allow(dead_code)] // each bench uses its own part

pub mod open_loop;

use std::path::Path;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use purr::config::Config;
use purr::plugin::bindings::purr::bot::config::Host as _;
use purr::plugin::bindings::purr::bot::kv::Host as _;
use purr::plugin::bindings::purr::bot::messaging::Host as _;
use purr::plugin::bindings::purr::bot::types::{Content, Message};
use purr::plugin::native::{Capabilities, Context, Event, Flow, NativeHandler, NativePlugin};
use purr::session::State;
use purr::supervisor::Supervisor;

pub const SESSIONS: usize = 4;
pub const EVENTS_PER_SESSION: usize = 25_000;

/// A host config with `sessions` sim sessions `s0`, `s1`, ... each running
/// `plugins/dist/<plugin>.wasm`, sends unlimited.
pub fn config(dir: &Path, journal: bool, plugin: &str, sessions: usize) -> Config {
    config_on(dir, None, journal, plugin, sessions)
}

/// [`config`] with the store on `database` (a `postgres://` URL) when
/// given, instead of SQLite in `dir/data`.
pub fn config_on(dir: &Path, database: Option<&str>, journal: bool, plugin: &str, sessions: usize) -> Config {
    let echo = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("plugins/dist/{plugin}.wasm"));
    assert!(echo.is_file(), "{} missing: run scripts/build-plugins", echo.display());
    let database = database
        .map(|url| format!("database = \"{url}\"\n"))
        .unwrap_or_default();
    let mut text = format!(
        "[host]\ndata_dir = \"data\"\n{database}journal = {journal}\n\n[sim]\npair_delay_ms = 0\n\n\
         [plugins.echo]\npath = \"{}\"\n",
        echo.display()
    );
    for s in 0..sessions {
        text.push_str(&format!(
            "\n[sessions.s{s}]\nchannel = \"sim\"\nplugins = [\"echo\"]\nsends_per_minute = 1000000\n"
        ));
    }
    let path = dir.join("purr.toml");
    std::fs::write(&path, text).unwrap();
    Config::load(&path).unwrap()
}

/// What one run measured: from the first event fed to the last reply out.
pub struct Run {
    pub events_per_second: f64,
    /// CPU time the process spent meanwhile (every thread).
    pub cpu: Duration,
}

/// Events/s for one run with the Rust `echo`: every session fed
/// concurrently, until every reply is out.
pub async fn events_per_second(journal: bool) -> f64 {
    events_per_second_with(journal, "echo").await
}

/// Events/s for one run with the plugin `plugins/dist/<plugin>.wasm`.
pub async fn events_per_second_with(journal: bool, plugin: &str) -> f64 {
    measure(journal, plugin).await.events_per_second
}

/// One run with the plugin `plugins/dist/<plugin>.wasm`, with its CPU.
pub async fn measure(journal: bool, plugin: &str) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let supervisor = Supervisor::new(config(dir.path(), journal, plugin, SESSIONS))
        .await
        .unwrap();
    run(supervisor).await
}

/// Events/s for one run with the Rust `echo` and the journal on, the store
/// on the PostgreSQL database `database` (a fresh one: the run's sessions
/// are new).
pub async fn events_per_second_on(database: &str) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let config = config_on(dir.path(), Some(database), true, "echo", SESSIONS);
    let supervisor = Supervisor::new(config).await.unwrap();
    run(supervisor).await.events_per_second
}

/// Events/s for one run with [`NativeEcho`] in the plugin's place: the
/// same config and sessions, the chain's `echo` a native handler.
pub async fn events_per_second_native(journal: bool) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), journal, "echo", SESSIONS);
    config.plugins.remove("echo");
    let supervisor = Supervisor::new(config).await.unwrap();
    supervisor
        .add_native(NativePlugin::new("echo", || NativeEcho))
        .await
        .unwrap();
    run(supervisor).await.events_per_second
}

/// Feeds every session of `supervisor` concurrently until every reply is
/// out. On a runtime worker: the caller may be a `block_on` thread, which
/// every reply would have to wake.
async fn run(supervisor: Supervisor) -> Run {
    tokio::spawn(feed(supervisor)).await.unwrap()
}

async fn feed(supervisor: Supervisor) -> Run {
    supervisor.start_autostart().await;
    for s in 0..SESSIONS {
        supervisor
            .wait_for(&format!("s{s}"), |st| st.state == State::Connected)
            .await
            .unwrap();
    }
    let mut replies = supervisor.sim().subscribe();
    let cpu = process_cpu();
    let started = Instant::now();
    let mut feeders = Vec::new();
    for s in 0..SESSIONS {
        let sim = supervisor.sim().clone();
        feeders.push(tokio::spawn(async move {
            let session = format!("s{s}");
            let mut commits = Vec::with_capacity(EVENTS_PER_SESSION);
            for i in 0..EVENTS_PER_SESSION {
                let commit = sim.inject_text_pipelined(&session, "user", &format!("!echo {i}")).await;
                commits.push(commit.unwrap());
            }
            for commit in commits {
                assert_eq!(commit.await.unwrap(), Ok(true));
            }
        }));
    }
    let total = SESSIONS * EVENTS_PER_SESSION;
    for _ in 0..total {
        tokio::time::timeout(Duration::from_secs(120), replies.recv())
            .await
            .expect("replies stalled")
            .expect("sim network gone");
    }
    let elapsed = started.elapsed();
    let cpu = process_cpu() - cpu;
    for feeder in feeders {
        feeder.await.unwrap();
    }
    supervisor.stop().await;
    Run {
        events_per_second: total as f64 / elapsed.as_secs_f64(),
        cpu,
    }
}

/// User + system time of this process so far, threads that ended included
/// (`getrusage`).
pub fn process_cpu() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, &mut usage), 0);
        usage
    };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

/// `plugins/echo` (the Rust `echo` plugin) as a native handler: the same
/// commands and the same capability calls (a kv get and set per message,
/// a send per answer), so the two differ only in wasm vs native code.
pub struct NativeEcho;

#[async_trait]
impl NativeHandler for NativeEcho {
    async fn handle(
        &mut self,
        caps: &mut Capabilities,
        _ctx: &Context,
        event: &Event,
    ) -> wasmtime::Result<Result<Flow, String>> {
        if let Event::Message(message) = event
            && !message.from_me
            && let Err(error) = answer(caps, message).await?
        {
            return Ok(Err(error));
        }
        Ok(Ok(Flow::Next))
    }
}

async fn answer(caps: &mut Capabilities, message: &Message) -> wasmtime::Result<Result<(), String>> {
    // Counts one more message in the chat, as `echo` does.
    let key = format!("count/{}", message.chat);
    let seen = match caps.kv.get(key.clone()).await? {
        Ok(Some(bytes)) => String::from_utf8_lossy(&bytes).parse::<u64>().unwrap_or(0),
        Ok(None) => 0,
        Err(error) => return Ok(Err(error)),
    } + 1;
    if let Err(error) = caps.kv.set(key, seen.to_string().into_bytes()).await? {
        return Ok(Err(error));
    }
    let text = match &message.content {
        Content::Text(text) => text,
        Content::ExtendedText(extended) => &extended.text,
        _ => return Ok(Ok(())),
    };
    let text = text.trim();
    let reply = if text == "!ping" {
        "pong".to_string()
    } else if let Some(rest) = text.strip_prefix("!echo ") {
        rest.to_string()
    } else if text == "!count" {
        seen.to_string()
    } else if text == "!hello" {
        caps.config
            .get("greeting".into())
            .await?
            .unwrap_or_else(|| "hello".into())
    } else {
        return Ok(Ok(()));
    };
    Ok(caps.messaging.send_text(message.chat.clone(), reply).await?.map(drop))
}
