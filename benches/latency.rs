//! Latency from inbound message to outbound reply at a fixed offered load.
//!
//! Run with `cargo bench --bench latency` (after `scripts/build-plugins`).
//!
//! 100 sim sessions with the Rust `echo` plugin; messages are offered at a
//! fixed total rate (1,000 per second, spread round-robin over the
//! sessions, open loop: the schedule does not wait for replies), for 10
//! seconds after a 1 second warm-up. Each message is `!echo <n>`; the time
//! from handing it to the session until the sim network records the reply
//! `<n>` goes into an HDR histogram. The baseline is the same run with the
//! journal off, in the same process run.

#[path = "pipeline/mod.rs"]
mod pipeline;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use purr::session::State;
use purr::supervisor::Supervisor;

const SESSIONS: usize = 100;
const RATE_PER_SECOND: u64 = 1_000;
const WARM_UP: Duration = Duration::from_secs(1);
const MEASURED: Duration = Duration::from_secs(10);

/// The latency histogram (microseconds) of one run.
async fn run(journal: bool) -> Histogram<u64> {
    let dir = tempfile::tempdir().unwrap();
    let supervisor = Supervisor::new(pipeline::config(dir.path(), journal, "echo", SESSIONS))
        .await
        .unwrap();
    supervisor.start_autostart().await;
    for s in 0..SESSIONS {
        let session = format!("s{s}");
        supervisor
            .wait_for(&session, |st| st.state == State::Connected)
            .await
            .unwrap();
    }
    // When each message was offered, by its number.
    let offered: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let mut replies = supervisor.sim().subscribe();
    let total = RATE_PER_SECOND * (WARM_UP + MEASURED).as_secs();
    let collector = {
        let offered = offered.clone();
        tokio::spawn(async move {
            let mut answered = 0;
            let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
            let measure_from = Instant::now() + WARM_UP;
            while let Some(reply) = replies.recv().await {
                let Some(n) = reply.action.text().and_then(|t| t.parse::<u64>().ok()) else {
                    continue;
                };
                let Some(sent) = offered.lock().unwrap().remove(&n) else {
                    continue;
                };
                if sent >= measure_from {
                    histogram.record(sent.elapsed().as_micros() as u64).unwrap();
                }
                answered += 1;
                if answered == total {
                    break;
                }
            }
            histogram
        })
    };
    let mut schedule = tokio::time::interval(Duration::from_secs(1) / RATE_PER_SECOND as u32);
    schedule.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for n in 0..total {
        schedule.tick().await;
        let session = format!("s{}", n as usize % SESSIONS);
        offered.lock().unwrap().insert(n, Instant::now());
        let commit = supervisor
            .sim()
            .inject_text_pipelined(&session, "user", &format!("!echo {n}"))
            .await
            .unwrap();
        drop(commit); // durability is awaited by the reply itself
    }
    let histogram = tokio::time::timeout(Duration::from_secs(120), collector)
        .await
        .expect("replies stalled")
        .unwrap();
    supervisor.stop().await;
    histogram
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let off = runtime.block_on(run(false));
    let on = runtime.block_on(run(true));
    println!(
        "latency inbound -> reply, {SESSIONS} sessions, {RATE_PER_SECOND} messages/s offered, {} s measured",
        MEASURED.as_secs()
    );
    println!("| pipeline | samples | p50 | p90 | p99 | p99.9 | max | p99 ratio |");
    println!("|---|---|---|---|---|---|---|---|");
    for (name, histogram) in [("journal off (baseline)", &off), ("journal on", &on)] {
        let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "| {name} | {} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} |",
            histogram.len(),
            ms(0.5),
            ms(0.9),
            ms(0.99),
            ms(0.999),
            histogram.max() as f64 / 1000.0,
            histogram.value_at_quantile(0.99) as f64 / off.value_at_quantile(0.99) as f64,
        );
    }
}

// The same allocator as the `purr` binary (src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
