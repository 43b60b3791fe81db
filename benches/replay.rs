//! A start with a long backlog: peak memory while a session replays what a
//! previous run left in the journal, against an empty start.
//!
//! Run with `cargo bench --bench replay` (after `scripts/build-plugins`).
//! `PURR_BENCH_BACKLOG=20000` picks the backlog (default 100,000 events).
//!
//! Each figure comes from a fresh child process (this binary, re-run with
//! `--child ...`): one journals N pending 4 KB text messages for session
//! `s` into a fresh data dir and exits; another opens a host on that dir,
//! starts `s` (chain: `echo`, which answers none of them), waits until the
//! replay is done (a flush is handled after it) and reports its peak RSS
//! (`VmHWM` in `/proc/self/status`) and the replay's time. The empty start
//! is the same host on a data dir with nothing journaled (its fill child
//! journals nothing but, like the other, leaves `echo` in the compile
//! cache: neither start compiles it).

#[path = "support/mod.rs"]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use purr::channel::{ChannelEvent, Content, InboundMessage};
use purr::config::Config;
use purr::session::State;
use purr::store::JournalEntry;
use purr::supervisor::Supervisor;
use support::{mib, proc_status, run_child};

const DEFAULT_BACKLOG: usize = 100_000;
/// The text of each journaled message, in bytes.
const TEXT_BYTES: usize = 4096;
/// Rows per journal append while filling.
const FILL_BATCH: usize = 1_000;

fn write_config(dir: &Path, autostart: bool) -> Config {
    let echo = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/dist/echo.wasm");
    assert!(echo.is_file(), "{} missing: run scripts/build-plugins", echo.display());
    let text = format!(
        "[host]\ndata_dir = \"data\"\n\n[sim]\npair_delay_ms = 0\n\n\
         [plugins.echo]\npath = \"{}\"\n\n\
         [sessions.s]\nchannel = \"sim\"\nplugins = [\"echo\"]\nautostart = {autostart}\n",
        echo.display()
    );
    let path = dir.join("purr.toml");
    std::fs::write(&path, text).unwrap();
    Config::load(&path).unwrap()
}

/// Child: journals `backlog` pending events for session `s`.
async fn child_fill(dir: &Path, backlog: usize) {
    let supervisor = Supervisor::new(write_config(dir, false)).await.unwrap();
    let text = "x".repeat(TEXT_BYTES);
    for start in (0..backlog).step_by(FILL_BATCH) {
        let rows = (start..(start + FILL_BATCH).min(backlog))
            .map(|i| {
                let event = ChannelEvent::Message(InboundMessage {
                    id: format!("m-{i}"),
                    chat: "user@sim".into(),
                    sender: "user@sim".into(),
                    from_me: false,
                    timestamp_ms: 1,
                    push_name: None,
                    is_group: false,
                    quoted_id: None,
                    content: Content::Text(text.clone()),
                });
                JournalEntry {
                    session: "s".into(),
                    seq: i as i64 + 1,
                    dedupe_key: Some(format!("m-{i}")),
                    event: serde_json::to_string(&event).unwrap(),
                    received_at_ms: 1,
                }
            })
            .collect();
        supervisor.store().writer().append(rows).await.unwrap();
    }
    supervisor.stop().await;
}

/// Child: starts `s` on the data dir and waits for its replay; prints peak
/// RSS, RSS before the start and the seconds until the replay was done.
async fn child_start(dir: &Path) {
    let supervisor = Supervisor::new(write_config(dir, true)).await.unwrap();
    let before = proc_status("VmRSS:");
    let started = Instant::now();
    supervisor.start_autostart().await;
    let connected = supervisor.wait_for("s", |st| st.state == State::Connected);
    tokio::time::timeout(Duration::from_secs(600), connected)
        .await
        .expect("never connected")
        .unwrap();
    supervisor.flush("s").await.unwrap();
    let replayed = started.elapsed().as_secs_f64();
    let left = supervisor.store().journal_pending_count("s").await.unwrap();
    assert_eq!(left, 0, "the replay left events behind");
    println!("{} {before} {replayed}", proc_status("VmHWM:"));
    supervisor.stop().await;
}

/// Runs this binary as a child doing `mode`; its output line.
fn child(mode: &str, dir: &Path, backlog: usize) -> String {
    run_child(&[mode.to_string(), dir.display().to_string(), backlog.to_string()])
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--child") {
        let (mode, dir) = (&args[at + 1], Path::new(&args[at + 2]));
        let backlog: usize = args[at + 3].parse().unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        match mode.as_str() {
            "fill" => runtime.block_on(child_fill(dir, backlog)),
            "start" => runtime.block_on(child_start(dir)),
            other => panic!("unknown child mode {other}"),
        }
        return;
    }

    let backlog = std::env::var("PURR_BENCH_BACKLOG").map_or(DEFAULT_BACKLOG, |n| n.parse().expect("backlog"));
    println!("start with N pending {TEXT_BYTES}-byte messages journaled, until all are replayed");
    println!("| pending events | RSS before start | peak RSS | peak over the empty start | replay |");
    println!("|---|---|---|---|---|");
    let mut empty_peak = 0.0;
    for pending in [0, backlog] {
        let dir = tempfile::tempdir().unwrap();
        let filled = Instant::now();
        // Even for the empty start: the fill child compiles `echo` into the
        // compile cache, so both starts load it from there.
        child("fill", dir.path(), pending);
        let fill = filled.elapsed();
        let line = child("start", dir.path(), pending);
        let v: Vec<f64> = line.split_whitespace().map(|x| x.parse().unwrap()).collect();
        let (peak, before, replayed) = (v[0], v[1], v[2]);
        if pending == 0 {
            empty_peak = peak;
        }
        println!(
            "| {pending} | {} | {} | {} | {replayed:.2} s |",
            mib(before),
            mib(peak),
            mib(peak - empty_peak),
        );
        eprintln!("(journaling {pending} events took {:.1} s)", fill.as_secs_f64());
    }
}

// The same allocator as the `purr` binary (src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
