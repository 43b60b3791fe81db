//! Reload latency: from a plugin file write to the first event served by
//! the new code, with and without a compile-cache hit.
//!
//! Run with `cargo bench --bench reload` (after `scripts/build-plugins`).
//! Every figure is the median of several rounds, measured in this run:
//! - `compile` / `cache load`: [`PluginHost::load`] of the same file with
//!   an empty cache and with a warm one (the ratio is the cache's gain);
//! - `swap, miss` / `swap, hit`: `reload_plugin` of a new file and of a
//!   file seen before, up to the reply of the new version to a message;
//! - `watched`: the same through the file watcher, which first waits for
//!   the file to be quiet for `reload::DEBOUNCE`.

#[path = "support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use purr::config::Config;
use purr::plugin::{EngineSettings, PluginHost, Source};
use purr::supervisor::Supervisor;
use support::{median, variant};

const ROUNDS: usize = 9;

fn plugin(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/plugins/dist/{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|_| panic!("{} missing: run scripts/build-plugins", path.display()))
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// Sends `text` until the session answers with `expected`; returns when it did.
async fn first_reply(supervisor: &Supervisor, text: &str, expected: &str) -> Instant {
    loop {
        let before = supervisor.sim().outbound("s").len();
        supervisor.sim().inject_text("s", "user", text).await.unwrap();
        supervisor.flush("s").await.unwrap();
        let replied = supervisor.sim().outbound("s")[before..]
            .iter()
            .any(|o| o.action.text() == Some(expected));
        if replied {
            return Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn write_config(dir: &Path) -> PathBuf {
    let path = dir.join("purr.toml");
    std::fs::write(
        &path,
        "[sim]\npair_delay_ms = 0\n\n[plugins.hot]\npath = \"hot.wasm\"\n\n\
         [sessions.s]\nchannel = \"sim\"\nplugins = [\"hot\"]\nsends_per_minute = 1000000\n",
    )
    .unwrap();
    path
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let v1 = plugin("tagged-v1");
    let v2 = plugin("tagged-v2");
    let dir = tempfile::tempdir().unwrap();
    let hot = dir.path().join("hot.wasm");
    std::fs::write(&hot, &v1).unwrap();
    let config = Config::load(&write_config(dir.path())).unwrap();

    // Load: compile vs cache.
    let host = PluginHost::new(EngineSettings::for_config(&config, true)).unwrap();
    let plugin_config = &config.plugins["hot"];
    let (mut compile, mut cached) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS as u32 {
        std::fs::write(&hot, variant(&v1, round)).unwrap();
        let loaded = host.load("hot", plugin_config).unwrap();
        assert_eq!(loaded.source, Source::Compiled);
        compile.push(loaded.load_time);
        let loaded = host.load("hot", plugin_config).unwrap();
        assert_eq!(loaded.source, Source::Cache);
        cached.push(loaded.load_time);
    }
    let (compile, cached) = (median(compile), median(cached));

    // Swaps on a live session.
    std::fs::write(&hot, &v1).unwrap();
    let (miss, hit, watched) = runtime.block_on(async {
        let supervisor = Supervisor::new(config.clone()).await.unwrap();
        supervisor.start("s").await.unwrap();
        supervisor
            .wait_for("s", |s| s.state == purr::session::State::Connected)
            .await
            .unwrap();
        first_reply(&supervisor, "x", "v1 x").await;
        let (mut miss, mut hit, mut watched) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..ROUNDS as u32 {
            // A never-seen v2, then back to v1 (cached since the start).
            std::fs::write(&hot, variant(&v2, 1000 + round)).unwrap();
            let started = Instant::now();
            assert!(supervisor.reload_plugin("hot").await.unwrap());
            miss.push(first_reply(&supervisor, "x", "v2 x").await - started);
            std::fs::write(&hot, &v1).unwrap();
            let started = Instant::now();
            assert!(supervisor.reload_plugin("hot").await.unwrap());
            hit.push(first_reply(&supervisor, "x", "v1 x").await - started);
        }
        let _watcher = purr::reload::watch(supervisor.clone(), &config.source, Box::new(|c| c)).unwrap();
        for round in 0..ROUNDS {
            let (bytes, expected) = if round % 2 == 0 { (&v2, "v2 x") } else { (&v1, "v1 x") };
            std::fs::write(&hot, bytes).unwrap();
            let started = Instant::now();
            watched.push(first_reply(&supervisor, "x", expected).await - started);
        }
        supervisor.stop().await;
        (median(miss), median(hit), median(watched))
    });

    println!(
        "reload latency, tagged plugin ({} KiB), median of {ROUNDS}",
        v1.len() / 1024
    );
    println!("| measure | time | ratio |");
    println!("|---|---|---|");
    println!("| compile (baseline) | {} | 1.00 |", ms(compile));
    println!(
        "| cache load | {} | {:.3} |",
        ms(cached),
        cached.as_secs_f64() / compile.as_secs_f64()
    );
    println!(
        "| swap, cache miss: write -> first reply | {} | {:.3} |",
        ms(miss),
        miss.as_secs_f64() / compile.as_secs_f64()
    );
    println!(
        "| swap, cache hit: write -> first reply | {} | {:.3} |",
        ms(hit),
        hit.as_secs_f64() / compile.as_secs_f64()
    );
    println!(
        "| watched file (debounce {} ms, cache hit) | {} | {:.3} |",
        purr::reload::DEBOUNCE.as_millis(),
        ms(watched),
        watched.as_secs_f64() / compile.as_secs_f64()
    );
}
