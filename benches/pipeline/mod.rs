//! The sim pipeline the throughput benchmarks drive: several sessions fed
//! concurrently with `!echo <n>` messages, an `echo` plugin (Rust unless
//! said otherwise), until every reply reached the sim network. Shared by `throughput.rs` and `bridge.rs`
//! (each bench target includes it with `#[path]`), and by `latency.rs` for
//! its config.

#![allow(dead_code)] // each bench uses its own part

use std::path::Path;
use std::time::{Duration, Instant};

use purr::config::Config;
use purr::session::State;
use purr::supervisor::Supervisor;

pub const SESSIONS: usize = 4;
pub const EVENTS_PER_SESSION: usize = 25_000;

/// A host config with `sessions` sim sessions `s0`, `s1`, ... each running
/// `plugins/dist/<plugin>.wasm`, sends unlimited.
pub fn config(dir: &Path, journal: bool, plugin: &str, sessions: usize) -> Config {
    let echo = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("plugins/dist/{plugin}.wasm"));
    assert!(echo.is_file(), "{} missing: run scripts/build-plugins", echo.display());
    let mut text = format!(
        "[host]\ndata_dir = \"data\"\njournal = {journal}\n\n[sim]\npair_delay_ms = 0\n\n\
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

/// Events/s for one run with the Rust `echo`: every session fed
/// concurrently, until every reply is out.
pub async fn events_per_second(journal: bool) -> f64 {
    events_per_second_with(journal, "echo").await
}

/// Events/s for one run with the plugin `plugins/dist/<plugin>.wasm`.
pub async fn events_per_second_with(journal: bool, plugin: &str) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let supervisor = Supervisor::new(config(dir.path(), journal, plugin, SESSIONS))
        .await
        .unwrap();
    supervisor.start_autostart().await;
    for s in 0..SESSIONS {
        supervisor
            .wait_for(&format!("s{s}"), |st| st.state == State::Connected)
            .await
            .unwrap();
    }
    let mut replies = supervisor.sim().subscribe();
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
    for feeder in feeders {
        feeder.await.unwrap();
    }
    supervisor.stop().await;
    total as f64 / elapsed.as_secs_f64()
}
