//! Inbound events/s end to end on the sim channel, with and without the
//! journal: message in → journal → session task → Rust `echo` plugin →
//! completion + outbox → sim network, for several sessions at once.
//!
//! Run with `cargo bench --bench throughput` (after `scripts/build-plugins`).
//! The baseline is the same pipeline with `[host] journal = false`, measured
//! in the same run; sends go through the outbox in both.

#[path = "pipeline/mod.rs"]
mod pipeline;

use pipeline::{EVENTS_PER_SESSION, SESSIONS, events_per_second, median};

const ROUNDS: usize = 3;

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (mut off, mut on) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        off.push(runtime.block_on(events_per_second(false)));
        on.push(runtime.block_on(events_per_second(true)));
    }
    let (off, on) = (median(off), median(on));
    println!("throughput, {SESSIONS} sessions x {EVENTS_PER_SESSION} events, Rust echo, median of {ROUNDS}");
    println!("| pipeline | events/s | ratio |");
    println!("|---|---|---|");
    println!("| journal off (baseline) | {off:.0} | 1.00 |");
    println!("| journal on (SQLite WAL, group commit) | {on:.0} | {:.2} |", on / off);
}

// The same allocator as the `purr` binary (src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
