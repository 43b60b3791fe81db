//! Plugin languages compared: the same `echo` plugin written in Rust,
//! JavaScript, Python and C, each measured in this run, with ratios to Rust.
//!
//! Run with `cargo bench --bench languages` (after `scripts/build-plugins`).
//! - `size`: the component file;
//! - `compile` / `cache load`: [`PluginHost::load`] with an empty compile
//!   cache and with a warm one (median of `LOAD_ROUNDS`);
//! - `event`: per message through a live session on the sim channel
//!   (`journal = false`), `EVENTS` messages queued at once, each a plain text
//!   that echo only counts (one kv get + set), minus the same pipeline with
//!   an empty chain: the plugin's share of an event;
//! - `instantiate`: the same with `max_calls = 1` (a fresh instance, plus its
//!   `init`, for every event), minus `event`.
//!
//! `PURR_BENCH_COMPARE="label=path.wasm,..."` adds rows for other builds of
//! echo, e.g. an older one, to compare with in the same run.

#[path = "support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use purr::config::Config;
use purr::plugin::{EngineSettings, PluginHost, Source};
use purr::session::State;
use purr::supervisor::Supervisor;
use support::{median, variant};

const LANGUAGES: [(&str, &str); 4] = [
    ("Rust", "echo"),
    ("C", "echo-c"),
    ("JavaScript", "echo-js"),
    ("Python", "echo-py"),
];
const LOAD_ROUNDS: u32 = 3;
const EVENTS: usize = 2_000;
const FRESH_EVENTS: usize = 300;
const ROUNDS: usize = 3;

fn wasm_path(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("plugins/dist/{name}.wasm"));
    assert!(path.is_file(), "{} missing: run scripts/build-plugins", path.display());
    path
}

/// A config with one session `s` running `plugin` (or nothing) with `max_calls`.
fn config(dir: &Path, plugin: Option<&Path>, max_calls: u64) -> Config {
    let mut text =
        "[host]\ndata_dir = \"data\"\njournal = false\nqueue_capacity = 4096\n\n[sim]\npair_delay_ms = 0\n\n"
            .to_string();
    let chain = match plugin {
        Some(path) => {
            text.push_str(&format!(
                "[plugins.p]\npath = \"{}\"\nmax_calls = {max_calls}\ntimeout_ms = 10000\nmemory_mb = 256\n\n",
                path.display()
            ));
            "[\"p\"]"
        }
        None => "[]",
    };
    text.push_str(&format!(
        "[sessions.s]\nchannel = \"sim\"\nplugins = {chain}\nsends_per_minute = 1000000\n"
    ));
    let path = dir.join("purr.toml");
    std::fs::write(&path, text).unwrap();
    Config::load(&path).unwrap()
}

/// Compile (cache miss) and cache-load times of `wasm`.
fn load_times(wasm: &[u8]) -> (Duration, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.wasm");
    std::fs::write(&file, wasm).unwrap();
    let config = config(dir.path(), Some(&file), 10_000);
    let host = PluginHost::new(EngineSettings::for_config(&config, true)).unwrap();
    let (mut compile, mut cached) = (Vec::new(), Vec::new());
    for round in 0..LOAD_ROUNDS {
        std::fs::write(&file, variant(wasm, round)).unwrap();
        let loaded = host.load("p", &config.plugins["p"]).unwrap();
        assert_eq!(loaded.source, Source::Compiled);
        compile.push(loaded.load_time);
        let loaded = host.load("p", &config.plugins["p"]).unwrap();
        assert_eq!(loaded.source, Source::Cache);
        cached.push(loaded.load_time);
    }
    (median(compile), median(cached))
}

/// Time per event for `events` plain texts queued at once into session `s`.
async fn per_event(plugin: Option<&Path>, max_calls: u64, events: usize) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let supervisor = Supervisor::new(config(dir.path(), plugin, max_calls)).await.unwrap();
    supervisor.start("s").await.unwrap();
    supervisor.wait_for("s", |s| s.state == State::Connected).await.unwrap();
    let sim = supervisor.sim().clone();
    // Warm up: instance made, code paged in, kv row present.
    for _ in 0..3 {
        sim.inject_text("s", "user", "warm").await.unwrap();
    }
    supervisor.flush("s").await.unwrap();
    let mut samples = Vec::new();
    for _ in 0..ROUNDS {
        let started = Instant::now();
        for i in 0..events {
            sim.inject_text_pipelined("s", "user", &format!("plain {i}"))
                .await
                .unwrap();
        }
        supervisor.flush("s").await.unwrap();
        samples.push(started.elapsed() / events as u32);
    }
    supervisor.stop().await;
    median(samples)
}

/// The extra builds named by `PURR_BENCH_COMPARE` (`label=path,...`).
fn compared_builds() -> Vec<(String, PathBuf)> {
    let list = std::env::var("PURR_BENCH_COMPARE").unwrap_or_default();
    list.split(',')
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (label, path) = entry
                .split_once('=')
                .unwrap_or_else(|| panic!("PURR_BENCH_COMPARE entry {entry:?} is not label=path"));
            (label.to_string(), PathBuf::from(path))
        })
        .collect()
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn ratio(value: f64, base: f64) -> String {
    format!("{:.1}×", value / base)
}

struct Row {
    language: String,
    size: u64,
    compile: Duration,
    cached: Duration,
    instantiate: Duration,
    event: Duration,
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let empty = runtime.block_on(per_event(None, 10_000, EVENTS));
    let mut rows = Vec::new();
    let builds = LANGUAGES
        .iter()
        .map(|(language, name)| (language.to_string(), wasm_path(name)))
        .chain(compared_builds());
    for (language, path) in builds {
        let wasm = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        eprintln!("measuring {language} ({})", path.display());
        let (compile, cached) = load_times(&wasm);
        let warm = runtime.block_on(per_event(Some(&path), 1_000_000, EVENTS));
        let fresh = runtime.block_on(per_event(Some(&path), 1, FRESH_EVENTS));
        rows.push(Row {
            language,
            size: wasm.len() as u64,
            compile,
            cached,
            instantiate: fresh.saturating_sub(warm),
            event: warm.saturating_sub(empty),
        });
    }

    let base = &rows[0];
    println!(
        "plugin languages, the echo plugin in each; event = plugin's share per message \
         (host pipeline with an empty chain: {}); medians of {ROUNDS} rounds ({LOAD_ROUNDS} for loads)",
        us(empty)
    );
    println!("| language | size | compile | cache load | instantiate + init | event |");
    println!("|---|---|---|---|---|---|");
    for row in &rows {
        println!(
            "| {} | {:.0} KiB ({}) | {} ({}) | {} ({}) | {} ({}) | {} ({}) |",
            row.language,
            row.size as f64 / 1024.0,
            ratio(row.size as f64, base.size as f64),
            ms(row.compile),
            ratio(row.compile.as_secs_f64(), base.compile.as_secs_f64()),
            ms(row.cached),
            ratio(row.cached.as_secs_f64(), base.cached.as_secs_f64()),
            us(row.instantiate),
            ratio(row.instantiate.as_secs_f64(), base.instantiate.as_secs_f64().max(1e-9)),
            us(row.event),
            ratio(row.event.as_secs_f64(), base.event.as_secs_f64().max(1e-9)),
        );
    }
}
