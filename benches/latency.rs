//! Latency from inbound message to outbound reply at a fixed offered load.
//!
//! Run with `cargo bench --bench latency` (after `scripts/build-plugins`).
//!
//! 100 sim sessions with the Rust `echo` plugin; messages are offered at a
//! fixed total rate (1,000 per second, spread round-robin over the
//! sessions, open loop: the schedule does not wait for replies), for 10
//! seconds after a 1 second warm-up. Each message is `!echo <n>`; the time
//! from handing it to the session until the sim network records the reply
//! `<n>` goes into an HDR histogram ([`pipeline::open_loop`]). The baseline
//! is the machine itself (issue 18): the same schedule in the same process
//! run, each message handed over a tokio channel to one of 100 tasks and
//! straight back ([`open_loop::machine`]); then purr with the journal off
//! and on.

#[path = "pipeline/mod.rs"]
mod pipeline;

use std::time::Duration;

use hdrhistogram::Histogram;
use pipeline::open_loop::{self, Load};
use purr::supervisor::Supervisor;

const LOAD: Load = Load {
    sessions: 100,
    rate_per_second: 1_000,
    warm_up: Duration::from_secs(1),
    measured: Duration::from_secs(10),
};

/// The latency histogram (microseconds) of one run.
async fn run(journal: bool) -> Histogram<u64> {
    let dir = tempfile::tempdir().unwrap();
    let supervisor = Supervisor::new(pipeline::config(dir.path(), journal, "echo", LOAD.sessions))
        .await
        .unwrap();
    supervisor.start_autostart().await;
    open_loop::connected(&supervisor, LOAD.sessions).await;
    let histogram = open_loop::measure(&supervisor, LOAD).await;
    supervisor.stop().await;
    histogram
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let machine = runtime.block_on(open_loop::machine(LOAD));
    let off = runtime.block_on(run(false));
    let on = runtime.block_on(run(true));
    println!(
        "latency inbound -> reply, {} sessions, {} messages/s offered, {} s measured",
        LOAD.sessions,
        LOAD.rate_per_second,
        LOAD.measured.as_secs()
    );
    println!("| pipeline | samples | p50 | p90 | p99 | p99.9 | max | p99 ratio |");
    println!("|---|---|---|---|---|---|---|---|");
    let rows = [
        ("the machine: a tokio channel hop (baseline)", &machine),
        ("purr, journal off", &off),
        ("purr, journal on", &on),
    ];
    for (name, histogram) in rows {
        println!("| {name} | {} |", open_loop::cells(histogram, &machine));
    }
}

// The same allocator as the `purr` binary (src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
