//! Latency at a fixed offered load, open loop (`latency.rs`, `shadow.rs`):
//! `!echo <n>` messages are offered to the sim sessions `s0`, `s1`, ...
//! round-robin at a fixed total rate, on a schedule that does not wait for
//! replies; the time from handing message `n` to its session until the sim
//! network records the reply `<n>` goes into an HDR histogram (µs), for the
//! messages offered after the warm-up.
//!
//! Every message must get exactly one reply, and each session's replies
//! must come in the order its messages were offered: [`measure`] panics
//! otherwise.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use purr::session::State;
use purr::supervisor::Supervisor;

/// The offered load.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub sessions: usize,
    pub rate_per_second: u64,
    pub warm_up: Duration,
    pub measured: Duration,
}

impl Load {
    /// Messages offered in all, warm-up included.
    pub fn messages(&self) -> u64 {
        (self.rate_per_second as f64 * (self.warm_up + self.measured).as_secs_f64()) as u64
    }
}

/// Waits until the sessions `s0` … `s<sessions - 1>` are connected.
pub async fn connected(supervisor: &Supervisor, sessions: usize) {
    for s in 0..sessions {
        supervisor
            .wait_for(&format!("s{s}"), |st| st.state == State::Connected)
            .await
            .unwrap();
    }
}

/// Offers `load` to `supervisor`'s connected sessions and returns the
/// latency histogram (µs) of the messages offered after the warm-up, once
/// every message has its reply. Panics if a message got no reply within
/// two minutes, more than one, or a session's replies came out of order.
pub async fn measure(supervisor: &Supervisor, load: Load) -> Histogram<u64> {
    // When each message was offered, by its number.
    let offered: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let mut replies = supervisor.sim().subscribe();
    let total = load.messages();
    let collector = {
        let offered = offered.clone();
        tokio::spawn(async move {
            let mut answered = 0;
            let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
            let measure_from = Instant::now() + load.warm_up;
            // The number of each session's last reply.
            let mut last: HashMap<String, u64> = HashMap::new();
            while let Some(reply) = replies.recv().await {
                let n = number(reply.action.text());
                let sent = offered.lock().unwrap().remove(&n);
                let sent = sent.unwrap_or_else(|| panic!("reply {n} in {}: twice, or never offered", reply.session));
                if let Some(previous) = last.insert(reply.session.clone(), n) {
                    assert!(previous < n, "{}: reply {n} after reply {previous}", reply.session);
                }
                if sent >= measure_from {
                    histogram.record(sent.elapsed().as_micros() as u64).unwrap();
                }
                answered += 1;
                if answered == total {
                    break;
                }
            }
            (histogram, replies)
        })
    };
    let mut schedule = tokio::time::interval(Duration::from_secs(1) / load.rate_per_second as u32);
    schedule.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for n in 0..total {
        schedule.tick().await;
        let session = format!("s{}", n as usize % load.sessions);
        offered.lock().unwrap().insert(n, Instant::now());
        let commit = supervisor
            .sim()
            .inject_text_pipelined(&session, "user", &format!("!echo {n}"))
            .await
            .unwrap();
        drop(commit); // durability is awaited by the reply itself
    }
    let (histogram, mut replies) = tokio::time::timeout(Duration::from_secs(120), collector)
        .await
        .expect("replies stalled")
        .unwrap();
    // Every message has its reply: whatever is still to come is one too many.
    for s in 0..load.sessions {
        supervisor.flush(&format!("s{s}")).await.unwrap();
    }
    if let Ok(extra) = replies.try_recv() {
        panic!("a reply after every message had one: {extra:?}");
    }
    histogram
}

/// The machine's own latency tail under `load`'s schedule, without purr:
/// each message is handed over a tokio channel to one of `sessions` tasks,
/// which hands it straight back to the collector. What this shows of a
/// tail is the machine's and the runtime's scheduling, which purr's
/// figures contain too (issue 18: purr's p99 is reported as a ratio to it).
pub async fn machine(load: Load) -> Histogram<u64> {
    use tokio::sync::mpsc;
    let (back, mut returned) = mpsc::unbounded_channel::<(u64, Instant)>();
    let sessions: Vec<mpsc::UnboundedSender<(u64, Instant)>> = (0..load.sessions)
        .map(|_| {
            let (to_session, mut inbox) = mpsc::unbounded_channel();
            let back = back.clone();
            tokio::spawn(async move {
                while let Some(message) = inbox.recv().await {
                    let _ = back.send(message);
                }
            });
            to_session
        })
        .collect();
    drop(back);
    let total = load.messages();
    let collector = tokio::spawn(async move {
        let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        let measure_from = Instant::now() + load.warm_up;
        for _ in 0..total {
            let (_, sent) = returned.recv().await.expect("every message comes back");
            if sent >= measure_from {
                histogram.record(sent.elapsed().as_micros().max(1) as u64).unwrap();
            }
        }
        histogram
    });
    let mut schedule = tokio::time::interval(Duration::from_secs(1) / load.rate_per_second as u32);
    schedule.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for n in 0..total {
        schedule.tick().await;
        sessions[n as usize % load.sessions].send((n, Instant::now())).unwrap();
    }
    collector.await.unwrap()
}

/// The message number an `!echo <n>` reply carries.
fn number(text: Option<&str>) -> u64 {
    text.and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("a reply that is no message number: {text:?}"))
}

/// A table row's cells for `histogram`: samples, p50, p90, p99, p99.9,
/// max (ms), and its p99 as a multiple of `baseline`'s.
pub fn cells(histogram: &Histogram<u64>, baseline: &Histogram<u64>) -> String {
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    format!(
        "{} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.2}",
        histogram.len(),
        ms(0.5),
        ms(0.9),
        ms(0.99),
        ms(0.999),
        histogram.max() as f64 / 1000.0,
        histogram.value_at_quantile(0.99) as f64 / baseline.value_at_quantile(0.99) as f64,
    )
}
