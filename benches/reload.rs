//! Reload latency: from a plugin file write to the first event served by
//! the new code, with and without a compile-cache hit.
//!
//! Run with `cargo bench --bench reload` (after `scripts/build-plugins`).
//! Every figure is the median of several rounds, measured in this run:
//! - `compile` / `cache load`: [`PluginHost::load`] of the same file with
//!   an empty cache and with a warm one (the ratio is the cache's gain);
//! - `swap, miss` / `swap, hit`: `reload_plugin` of a new file and of a
//!   file seen before, up to the reply of the new version to a message;
//! - `watched`: the same through the file watcher, which acts once the
//!   written file is closed (`reload::SETTLED_WAIT` later).
//!
//! Under load: a second host with [`LOAD_SESSIONS`] sessions of the same
//! plugin (journal on). First idle (the baseline), then while messages are
//! offered at [`LOAD_RATE`] per second (open loop, round-robin), the file
//! is swapped [`SWAPS`] times per kind (cache hit, cache miss, through the
//! watcher); each swap is timed from the file write to the first reply of
//! the new version seen on the sim network (p50/p99). Idle, one message is
//! sent once the new version serves. Every message offered under load must
//! be answered exactly once, by one version or the other: the lost and
//! duplicated counts are printed (and must be 0).

#[path = "support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use purr::config::Config;
use purr::plugin::{EngineSettings, PluginHost, Source};
use purr::supervisor::Supervisor;
use support::{median, variant};

const ROUNDS: usize = 9;
/// Sessions of the under-load host, all running the swapped plugin.
const LOAD_SESSIONS: usize = 20;
/// Messages offered per second under load, over all sessions.
const LOAD_RATE: u64 = 1_000;
/// Swaps per kind, idle and under load.
const SWAPS: usize = 20;
/// Pause after each swap: the watcher's debounce of the write passes (for
/// a swap by `reload_plugin` it then finds the serving file: no reload),
/// and under load every session has moved on to the new version.
const BETWEEN_SWAPS: Duration = Duration::from_millis(200);

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
        "| watched file (acted on {} ms after close, cache hit) | {} | {:.3} |",
        purr::reload::SETTLED_WAIT.as_millis(),
        ms(watched),
        watched.as_secs_f64() / compile.as_secs_f64()
    );

    runtime.block_on(under_load(&v1, &v2));
}

/// How a swap is set off.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// `reload_plugin` of a file seen before.
    Hit,
    /// `reload_plugin` of a never-seen file (compiled while the load runs).
    Miss,
    /// The file watcher notices the write (cache hit).
    Watched,
}

const KINDS: [(Kind, &str); 3] = [
    (Kind::Hit, "swap, cache hit: write -> first reply"),
    (Kind::Miss, "swap, cache miss: write -> first reply"),
    (Kind::Watched, "watched file (cache hit): write -> first reply"),
];

/// Every text reply the sim network saw, with when it was seen.
type Seen = Arc<Mutex<Vec<(Instant, String)>>>;

/// The swapped plugin of the under-load host: writes its file, times swaps.
struct Swapper {
    supervisor: Supervisor,
    hot: PathBuf,
    v1: Vec<u8>,
    v2: Vec<u8>,
    seen: Seen,
    /// The version serving now (1 or 2), and a counter for unseen variants.
    serving: u32,
    fresh: u32,
}

impl Swapper {
    /// Swaps to the other version; returns the time from the file write to
    /// the first reply of the new version (idle: to the reply to one
    /// message sent once the new version serves).
    async fn swap(&mut self, kind: Kind, idle: bool) -> Duration {
        let next = 3 - self.serving;
        let code = if next == 1 { &self.v1 } else { &self.v2 };
        let bytes = match kind {
            Kind::Miss => {
                self.fresh += 1;
                variant(code, 1_000_000 + self.fresh)
            }
            Kind::Hit | Kind::Watched => code.clone(),
        };
        let generation = self.generation();
        let tag = format!("v{next} ");
        let started = Instant::now();
        std::fs::write(&self.hot, bytes).unwrap();
        if kind == Kind::Watched {
            while self.generation() == generation {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        } else {
            assert!(self.supervisor.reload_plugin("hot").await.unwrap());
        }
        self.serving = next;
        if idle {
            self.supervisor.sim().inject_text("s0", "user", "idle").await.unwrap();
        }
        loop {
            let first = self
                .seen
                .lock()
                .unwrap()
                .iter()
                .rev()
                .take_while(|(at, _)| *at >= started)
                .filter(|(_, text)| text.starts_with(&tag))
                .map(|(at, _)| *at)
                .min();
            if let Some(at) = first {
                return at - started;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no reply from the new version"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    fn generation(&self) -> u64 {
        let plugins = self.supervisor.plugins();
        plugins.iter().find(|p| p.name == "hot").unwrap().generation
    }
}

/// p50 and p99 of `samples` (nearest rank).
fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let rank = |q: f64| samples[((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1];
    (rank(0.5), rank(0.99))
}

/// Reload latency idle and under load on one host, and the messages the
/// swaps under load lost or answered twice.
async fn under_load(v1: &[u8], v2: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let hot = dir.path().join("hot.wasm");
    std::fs::write(&hot, v1).unwrap();
    let mut text = "[sim]\npair_delay_ms = 0\n\n[plugins.hot]\npath = \"hot.wasm\"\n".to_string();
    for s in 0..LOAD_SESSIONS {
        text.push_str(&format!(
            "\n[sessions.s{s}]\nchannel = \"sim\"\nplugins = [\"hot\"]\nsends_per_minute = 1000000\n"
        ));
    }
    let path = dir.path().join("purr.toml");
    std::fs::write(&path, text).unwrap();
    let config = Config::load(&path).unwrap();
    let supervisor = Supervisor::new(config.clone()).await.unwrap();
    supervisor.start_autostart().await;
    for s in 0..LOAD_SESSIONS {
        supervisor
            .wait_for(&format!("s{s}"), |st| st.state == purr::session::State::Connected)
            .await
            .unwrap();
    }
    let seen: Seen = Arc::default();
    let mut replies = supervisor.sim().subscribe();
    let collector = {
        let seen = seen.clone();
        tokio::spawn(async move {
            while let Some(reply) = replies.recv().await {
                if let Some(text) = reply.action.text() {
                    seen.lock().unwrap().push((Instant::now(), text.to_string()));
                }
            }
        })
    };
    let _watcher = purr::reload::watch(supervisor.clone(), &config.source, Box::new(|c| c)).unwrap();
    let mut swapper = Swapper {
        supervisor: supervisor.clone(),
        hot,
        v1: v1.to_vec(),
        v2: v2.to_vec(),
        seen: seen.clone(),
        serving: 1,
        fresh: 0,
    };
    // Both versions compiled once, so the hits are hits.
    for _ in 0..2 {
        swapper.swap(Kind::Hit, true).await;
        tokio::time::sleep(BETWEEN_SWAPS).await;
    }

    let mut idle: Vec<Vec<Duration>> = vec![Vec::new(); KINDS.len()];
    for (samples, (kind, _)) in idle.iter_mut().zip(KINDS) {
        for _ in 0..SWAPS {
            samples.push(swapper.swap(kind, true).await);
            tokio::time::sleep(BETWEEN_SWAPS).await;
        }
    }

    // The load: `<n>` to session s<n % LOAD_SESSIONS>, answered `v1 <n>` or `v2 <n>`.
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (sim, stop) = (supervisor.sim().clone(), stop.clone());
        tokio::spawn(async move {
            let mut schedule = tokio::time::interval(Duration::from_secs(1) / LOAD_RATE as u32);
            schedule.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut offered = 0u64;
            while !stop.load(Ordering::Relaxed) {
                schedule.tick().await;
                let session = format!("s{}", offered as usize % LOAD_SESSIONS);
                let commit = sim.inject_text_pipelined(&session, "user", &offered.to_string()).await;
                drop(commit.unwrap());
                offered += 1;
            }
            offered
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await; // warm-up
    let mut loaded: Vec<Vec<Duration>> = vec![Vec::new(); KINDS.len()];
    for (samples, (kind, _)) in loaded.iter_mut().zip(KINDS) {
        for _ in 0..SWAPS {
            samples.push(swapper.swap(kind, false).await);
            tokio::time::sleep(BETWEEN_SWAPS).await;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let offered = load.await.unwrap();

    // Every message answered once: wait for the last replies, then count.
    let answers = |seen: &Seen| {
        let mut answers: HashMap<u64, u32> = HashMap::new();
        for (_, text) in seen.lock().unwrap().iter() {
            let n = text.split_once(' ').and_then(|(_, n)| n.parse::<u64>().ok());
            if let Some(n) = n {
                *answers.entry(n).or_default() += 1;
            }
        }
        answers
    };
    let waited = Instant::now();
    while (answers(&seen).len() as u64) < offered && waited.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await; // late duplicates, if any
    let answers = answers(&seen);
    let lost = (0..offered).filter(|n| !answers.contains_key(n)).count();
    let duplicated: u32 = answers.values().map(|count| count - 1).sum();
    supervisor.stop().await;
    collector.abort();

    println!();
    println!(
        "reload latency under load: {LOAD_SESSIONS} sessions, {LOAD_RATE} messages/s offered, journal on, \
         {SWAPS} swaps per row (p99 of {SWAPS}: the slowest); baseline: the same swaps on the same host, idle"
    );
    println!("| swap | idle p50 | idle p99 | under load p50 | under load p99 | p50 ratio | p99 ratio |");
    println!("|---|---|---|---|---|---|---|");
    for ((idle, loaded), (_, name)) in idle.into_iter().zip(loaded).zip(KINDS) {
        let ((i50, i99), (l50, l99)) = (percentiles(idle), percentiles(loaded));
        println!(
            "| {name} | {} | {} | {} | {} | {:.2} | {:.2} |",
            ms(i50),
            ms(i99),
            ms(l50),
            ms(l99),
            l50.as_secs_f64() / i50.as_secs_f64(),
            l99.as_secs_f64() / i99.as_secs_f64()
        );
    }
    println!(
        "messages offered during the {} swaps under load: {offered}; lost: {lost}; answered twice: {duplicated}",
        SWAPS * KINDS.len()
    );
    assert_eq!((lost, duplicated), (0, 0), "a swap lost or repeated messages");
}
