//! Sessions at scale: memory per connected session, and start-up time.
//!
//! Run with `cargo bench --bench sessions` (after `scripts/build-plugins`).
//! `PURR_BENCH_SESSIONS=100,1000` picks the session counts (default
//! 100, 1000, 10000).
//!
//! Every measurement runs in a fresh child process (this binary, re-run
//! with `--child ...`), so one count's memory does not linger into the
//! next. Each child opens a host with N sim sessions whose chain is
//! `guard` → `echo` (and, for memory, also with no plugins), starts them all, waits until every one is
//! `connected`, and reports:
//! - RSS: the process's resident memory (`/proc/self/status`) before the
//!   sessions start (the baseline: engine, compiled plugins, database) and
//!   once all are connected and idle. With `idle_ms = 0` every session
//!   keeps the instances its plugins' `started` event made; with
//!   `idle_ms = 500` (60 s by default) they were dropped for idleness.
//! - Start-up: from opening the host (database, plugins compiled or loaded
//!   from the compile cache) until every session is `connected`, with an
//!   empty compile cache (cold) and with the cache the cold run left
//!   (warm).

#[path = "support/mod.rs"]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use purr::config::Config;
use purr::session::State;
use purr::supervisor::Supervisor;
use support::{mib, proc_status, run_child};

const DEFAULT_COUNTS: [usize; 3] = [100, 1_000, 10_000];
/// The plugins' `idle_ms` measured: instances kept, instances dropped.
const IDLE_MS: [u64; 2] = [0, 500];

/// The chains measured: the example bots, and none (what a session costs
/// the host by itself).
const CHAINS: [&str; 2] = ["guard,echo", ""];

fn write_config(dir: &Path, sessions: usize, chain: &str, idle_ms: u64) -> Config {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/dist");
    for plugin in ["guard", "echo"] {
        let path = dist.join(format!("{plugin}.wasm"));
        assert!(path.is_file(), "{} missing: run scripts/build-plugins", path.display());
    }
    let mut text = format!(
        "[host]\ndata_dir = \"data\"\n\n[sim]\npair_delay_ms = 0\n\n\
         [plugins.guard]\npath = \"{0}/guard.wasm\"\nidle_ms = {idle_ms}\nconfig = {{ banned = [\"spam\"] }}\n\n\
         [plugins.echo]\npath = \"{0}/echo.wasm\"\nidle_ms = {idle_ms}\n",
        dist.display()
    );
    let chain: Vec<String> = chain
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|p| format!("{p:?}"))
        .collect();
    let chain = chain.join(", ");
    for s in 0..sessions {
        text.push_str(&format!("\n[sessions.s{s}]\nchannel = \"sim\"\nplugins = [{chain}]\n"));
    }
    let path = dir.join("purr.toml");
    std::fs::write(&path, text).unwrap();
    Config::load(&path).unwrap()
}

/// Resident memory of this process, in bytes.
fn rss() -> u64 {
    proc_status("VmRSS:")
}

async fn all_connected(supervisor: &Supervisor, sessions: usize) {
    for s in 0..sessions {
        let session = format!("s{s}");
        let wait = supervisor.wait_for(&session, |st| st.state == State::Connected);
        tokio::time::timeout(Duration::from_secs(600), wait)
            .await
            .expect("sessions never all connected")
            .unwrap();
    }
}

/// Child: memory of N connected, idle sessions.
async fn child_memory(dir: &Path, sessions: usize, chain: &str, idle_ms: u64) {
    let config = write_config(dir, sessions, chain, idle_ms);
    let supervisor = Supervisor::new(config).await.unwrap();
    let baseline = rss();
    supervisor.start_autostart().await;
    all_connected(&supervisor, sessions).await;
    for s in 0..sessions {
        supervisor.flush(&format!("s{s}")).await.unwrap();
    }
    let instances = || -> usize {
        (0..sessions)
            .map(|s| supervisor.live_instances(&format!("s{s}")).unwrap())
            .sum()
    };
    if idle_ms > 0 {
        while instances() > 0 {
            tokio::time::sleep(Duration::from_millis(idle_ms / 5)).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!("{baseline} {} {}", rss(), instances());
    supervisor.stop().await;
}

/// Child: seconds from opening the host to every session connected.
async fn child_startup(dir: &Path, sessions: usize, chain: &str) {
    let config = write_config(dir, sessions, chain, 60_000);
    let started = Instant::now();
    let supervisor = Supervisor::new(config).await.unwrap();
    supervisor.start_autostart().await;
    all_connected(&supervisor, sessions).await;
    println!("{}", started.elapsed().as_secs_f64());
    supervisor.stop().await;
}

/// Runs this binary as a child measuring `mode`, returning its output line.
fn measure(mode: &str, dir: &Path, sessions: usize, chain: &str, idle_ms: u64) -> String {
    run_child(&[
        mode.to_string(),
        dir.display().to_string(),
        sessions.to_string(),
        chain.to_string(),
        idle_ms.to_string(),
    ])
}

fn counts() -> Vec<usize> {
    match std::env::var("PURR_BENCH_SESSIONS") {
        Ok(list) => list
            .split(',')
            .map(|n| n.trim().parse().expect("session count"))
            .collect(),
        Err(_) => DEFAULT_COUNTS.to_vec(),
    }
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--child") {
        let (mode, dir, sessions) = (&args[at + 1], Path::new(&args[at + 2]), args[at + 3].parse().unwrap());
        let chain = &args[at + 4];
        let idle_ms = args[at + 5].parse().unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        match mode.as_str() {
            "memory" => runtime.block_on(child_memory(dir, sessions, chain, idle_ms)),
            "startup" => runtime.block_on(child_startup(dir, sessions, chain)),
            other => panic!("unknown child mode {other}"),
        }
        return;
    }

    println!("memory: N sim sessions, all connected and idle");
    println!("| sessions | chain | idle_ms | baseline RSS | + N sessions | per session | live instances |");
    println!("|---|---|---|---|---|---|---|");
    for sessions in counts() {
        for chain in CHAINS {
            for idle_ms in IDLE_MS {
                if chain.is_empty() && idle_ms > 0 {
                    continue; // no instances to drop
                }
                let dir = tempfile::tempdir().unwrap();
                let line = measure("memory", dir.path(), sessions, chain, idle_ms);
                let v: Vec<f64> = line.split_whitespace().map(|x| x.parse().unwrap()).collect();
                let (baseline, connected, instances) = (v[0], v[1], v[2]);
                let shown = if chain.is_empty() {
                    "(none)".to_string()
                } else {
                    chain.replace(',', " → ")
                };
                println!(
                    "| {sessions} | {shown} | {idle_ms} | {} | {} | {:.1} KiB | {instances} |",
                    mib(baseline),
                    mib(connected - baseline),
                    (connected - baseline) / sessions as f64 / 1024.0,
                );
            }
        }
    }

    println!();
    println!("start-up: open the host, start N sessions, until all are connected");
    println!("| sessions | cold compile cache | warm compile cache | warm / cold |");
    println!("|---|---|---|---|");
    for sessions in counts().into_iter().filter(|&n| n <= 1_000) {
        let dir = tempfile::tempdir().unwrap();
        let cold: f64 = measure("startup", dir.path(), sessions, CHAINS[0], 60_000)
            .parse()
            .unwrap();
        // The same data dir: the compile cache is filled, the sessions are paired.
        let warm: f64 = measure("startup", dir.path(), sessions, CHAINS[0], 60_000)
            .parse()
            .unwrap();
        println!(
            "| {sessions} | {:.0} ms | {:.0} ms | {:.2} |",
            cold * 1000.0,
            warm * 1000.0,
            warm / cold
        );
    }
}

// The same allocator as the `purr` binary (src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
