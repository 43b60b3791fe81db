//! Shadow runs (issue 17): the live latency at a fixed load with a shadow
//! candidate beside the live plugin, against the same run without one.
//!
//! Run with `cargo bench --bench shadow` (after `scripts/build-plugins`).
//!
//! 100 sim sessions with the Rust `echo` plugin, journal on; `!echo <n>`
//! messages offered at 1,000 per second round-robin, open loop
//! ([`pipeline::open_loop`]), 1 s warm-up then 8 s measured. Four runs, in
//! one process, in this order:
//!
//! 1. no shadow (the baseline);
//! 2. shadow `tagged-v2`, which answers `v2 <text>`: it differs on every
//!    message;
//! 3. shadow `unruly` in mode `trap`: it traps on every event (a new
//!    instance for each);
//! 4. shadow `unruly` in mode `loop`: it spins on every event until its
//!    deadline stops it. The candidate has echo's entry, so echo's
//!    `timeout_ms` (its default, 1000) and `[plugins.echo.config] mode`.
//!
//! Each run must deliver every message's reply once, in order per session
//! (checked); its table row has the latency percentiles, the p99 against
//! the baseline's, the shadow's counters as the plugin's status shows them
//! once the replies are in and the shadow caught up (or 5 s later: `not
//! run` is what is still queued or running then, or was never given to a
//! runner), the CPU time the shadow thread used meanwhile, and how long
//! the host then took to stop. Warnings and errors the host logs (a shadow
//! that could not start, a database write that failed) go to stderr.

#[path = "pipeline/mod.rs"]
mod pipeline;

use std::path::Path;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use pipeline::open_loop::{self, Load};
use purr::rollout::compare::Difference;
use purr::rollout::shadow::ShadowStatus;
use purr::supervisor::Supervisor;

const LOAD: Load = Load {
    sessions: 100,
    rate_per_second: 1_000,
    warm_up: Duration::from_secs(1),
    measured: Duration::from_secs(8),
};
/// How long the shadow may take to catch up once the replies are in.
const SETTLE: Duration = Duration::from_secs(5);

/// A shadow candidate: a test plugin, and the `mode` setting given to echo.
#[derive(Clone, Copy)]
struct Candidate {
    plugin: &'static str,
    mode: Option<&'static str>,
}

const RUNS: [(&str, Option<Candidate>); 4] = [
    ("no shadow (baseline)", None),
    (
        "shadow tagged-v2 (differs)",
        Some(Candidate {
            plugin: "tagged-v2",
            mode: None,
        }),
    ),
    (
        "shadow unruly, trap",
        Some(Candidate {
            plugin: "unruly",
            mode: Some("trap"),
        }),
    ),
    (
        "shadow unruly, loop (1 s deadline)",
        Some(Candidate {
            plugin: "unruly",
            mode: Some("loop"),
        }),
    ),
];

/// One run: the latency histogram (µs) and the shadow's counters.
async fn run(candidate: Option<Candidate>) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let mut config = pipeline::config(dir.path(), true, "echo", LOAD.sessions);
    if let Some(candidate) = candidate {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/plugins/dist/{}.wasm", candidate.plugin));
        assert!(path.is_file(), "{} missing: run scripts/build-plugins", path.display());
        let echo = config.plugins.get_mut("echo").unwrap();
        echo.shadow = Some(path);
        if let Some(mode) = candidate.mode {
            echo.settings.insert("mode".into(), mode.into());
        }
    }
    let supervisor = Supervisor::new(config).await.unwrap();
    supervisor.start_autostart().await;
    open_loop::connected(&supervisor, LOAD.sessions).await;
    let cpu_before = shadow_thread_cpu();
    let histogram = open_loop::measure(&supervisor, LOAD).await;
    let status = match candidate {
        Some(_) => Some(settled(&supervisor).await),
        None => None,
    };
    let cpu = shadow_thread_cpu() - cpu_before;
    let stopping = Instant::now();
    supervisor.stop().await;
    let stop = stopping.elapsed();
    Outcome {
        histogram,
        status,
        cpu,
        stop,
    }
}

/// What one run measured.
struct Outcome {
    histogram: Histogram<u64>,
    status: Option<ShadowStatus>,
    /// CPU time of the shadow thread from the first message until the
    /// counters were read (Linux; 0 elsewhere).
    cpu: Duration,
    /// How long the host took to stop.
    stop: Duration,
}

/// The CPU time (user + system) the shadow runners' thread (`purr-shadow`,
/// one per process, started by the first shadow) has used so far.
fn shadow_thread_cpu() -> Duration {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() != "purr-shadow" {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // After the `(comm)` field: state is field 3, utime and stime fields 14 and 15.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace()
            .collect();
        let ticks: u64 = fields[11..13].iter().map(|f| f.parse::<u64>().unwrap()).sum();
        // SAFETY: sysconf takes and returns plain integers.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
        return Duration::from_millis(ticks * 1000 / per_second);
    }
    Duration::ZERO
}

/// The events the shadow is offered: each session's `started` and
/// `connected`, and the messages.
fn offered() -> u64 {
    2 * LOAD.sessions as u64 + LOAD.messages()
}

/// Echo's shadow status once it saw every event (compared or dropped),
/// or after [`SETTLE`].
async fn settled(supervisor: &Supervisor) -> ShadowStatus {
    let give_up = Instant::now() + SETTLE;
    loop {
        let status = supervisor
            .plugins()
            .into_iter()
            .find(|p| p.name == "echo")
            .and_then(|p| p.shadow)
            .expect("echo has a shadow");
        if status.compared + status.dropped >= offered() || Instant::now() >= give_up {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn main() {
    // Warnings and errors (a shadow that could not start, a database write
    // that failed) go to stderr; RUST_LOG overrides.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let results: Vec<_> = RUNS
        .iter()
        .map(|&(name, candidate)| (name, runtime.block_on(run(candidate))))
        .collect();
    let baseline = &results[0].1.histogram;
    println!(
        "live latency inbound -> reply, {} sessions, journal on, {} messages/s offered, {} s measured; \
         every reply delivered once, in order; shadow offered {} events",
        LOAD.sessions,
        LOAD.rate_per_second,
        LOAD.measured.as_secs(),
        offered()
    );
    println!(
        "| run | samples | p50 | p90 | p99 | p99.9 | max | p99 ratio \
         | compared | identical | differing | candidate errors | dropped | not run | shadow CPU | stop |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (name, outcome) in &results {
        let shadow = match &outcome.status {
            Some(s) => format!(
                "{} | {} | {} | {} | {} | {} | {:.1} s",
                s.compared,
                s.identical,
                s.differing,
                s.candidate_errors,
                s.dropped,
                offered() as i64 - (s.compared + s.dropped) as i64,
                outcome.cpu.as_secs_f64()
            ),
            None => "– | – | – | – | – | – | –".to_string(),
        };
        println!(
            "| {name} | {} | {shadow} | {:.1} s |",
            open_loop::cells(&outcome.histogram, baseline),
            outcome.stop.as_secs_f64()
        );
    }
    // How the candidate's runs ended, from its latest difference.
    for (name, outcome) in &results {
        let ends = outcome
            .status
            .iter()
            .flat_map(|s| s.recent.last())
            .flat_map(|d| &d.differences);
        for difference in ends {
            if let Difference::End { candidate, .. } = difference {
                println!("{name}: {}", serde_json::to_string(candidate).unwrap());
            }
        }
    }
}

// The same allocator as the `purr` binary (src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
