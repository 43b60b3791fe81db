//! purr against the seed's architecture: a Node.js handler over WebSocket.
//!
//! Run with `cargo bench --bench bridge` (after `scripts/build-plugins`;
//! needs `node` and `npm`, and installs `benches/node-bridge`'s pinned
//! `ws` package with `npm ci` on first use).
//!
//! The baseline is what purr replaces: a host that hands each inbound
//! event, as JSON, to a bot written in Node.js over a local WebSocket and
//! reads the replies back (`benches/node-bridge/bridge.mjs`: the same
//! commands as the Rust `echo` plugin, counts in memory). Here the host
//! side is Rust (tokio-tungstenite), one connection per session, each
//! keeping one or up to 1,024 events in flight (the bridge journals
//! nothing). purr is measured in the same run on the same workload: the sim
//! pipeline (`pipeline/mod.rs`) with the journal on, and off (no
//! durability, like the bridge).

#[path = "pipeline/mod.rs"]
mod pipeline;
#[path = "support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use futures::{SinkExt, StreamExt};
use pipeline::{EVENTS_PER_SESSION, SESSIONS, events_per_second};
use support::median;
use tokio_tungstenite::tungstenite::Message;

const ROUNDS: usize = 3;
/// Events a connection keeps in flight to the Node process, at most: one
/// (the host waits for each answer, as a session handles one event at a
/// time) and many (pipelined: the bridge at its best).
const WINDOWS: [usize; 2] = [1, 1024];

/// Starts the Node bridge (installing its package first if needed); returns it and its port.
fn start_bridge() -> (Child, u16) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/node-bridge");
    if !dir.join("node_modules/ws").is_dir() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--silent"])
            .current_dir(&dir)
            .status()
            .expect("npm not found: the Node baseline needs node and npm");
        assert!(status.success(), "npm ci failed in {}", dir.display());
    }
    let mut child = Command::new("node")
        .arg("bridge.mjs")
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node not found: the Node baseline needs node");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().parse().expect("the bridge prints its port");
    (child, port)
}

/// Events/s through the bridge: every session's connection fed concurrently.
async fn bridge_events_per_second(port: u16, window: usize) -> f64 {
    let url = format!("ws://127.0.0.1:{port}");
    let mut sockets = Vec::new();
    for _ in 0..SESSIONS {
        let (socket, _) = tokio_tungstenite::connect_async(url.as_str()).await.unwrap();
        sockets.push(socket);
    }
    let started = Instant::now();
    let mut connections = Vec::new();
    for (s, socket) in sockets.into_iter().enumerate() {
        connections.push(tokio::spawn(async move {
            let (mut to_node, mut from_node) = socket.split();
            let (mut sent, mut answered) = (0, 0);
            while answered < EVENTS_PER_SESSION {
                while sent < EVENTS_PER_SESSION && sent - answered < window {
                    let event = serde_json::json!({
                        "id": format!("s{s}-{sent}"),
                        "session": format!("s{s}"),
                        "chat": "user@sim",
                        "text": format!("!echo {sent}"),
                    });
                    to_node.feed(Message::text(event.to_string())).await.unwrap();
                    sent += 1;
                }
                to_node.flush().await.unwrap();
                let Some(Ok(Message::Text(answer))) = from_node.next().await else {
                    panic!("the bridge closed the connection");
                };
                let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
                assert_eq!(answer["replies"][0]["text"], (answered).to_string(), "replies in order");
                answered += 1;
            }
        }));
    }
    for connection in connections {
        connection.await.unwrap();
    }
    (SESSIONS * EVENTS_PER_SESSION) as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let (mut bridge, port) = start_bridge();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut node: Vec<Vec<f64>> = vec![Vec::new(); WINDOWS.len()];
    let (mut purr_on, mut purr_off) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        for (samples, window) in node.iter_mut().zip(WINDOWS) {
            samples.push(runtime.block_on(bridge_events_per_second(port, window)));
        }
        purr_on.push(runtime.block_on(events_per_second(true)));
        purr_off.push(runtime.block_on(events_per_second(false)));
    }
    drop(bridge.stdin.take()); // the bridge exits when its stdin closes
    bridge.wait().unwrap();
    let node: Vec<f64> = node.into_iter().map(median).collect();
    let baseline = node[0];
    println!(
        "purr vs a Node.js handler over WebSocket, {SESSIONS} sessions x {EVENTS_PER_SESSION} events, median of {ROUNDS}"
    );
    println!("| pipeline | events/s | ratio |");
    println!("|---|---|---|");
    for (window, events) in WINDOWS.iter().zip(&node) {
        let role = if *events == baseline { " (baseline)" } else { "" };
        println!(
            "| Node.js handler over a local WebSocket, {window} in flight per session, no journal{role} | {events:.0} | {:.2} |",
            events / baseline
        );
    }
    for (name, samples) in [("journal on", purr_on), ("journal off", purr_off)] {
        let events = median(samples);
        println!(
            "| purr: Rust echo plugin (wasm), outbox, {name} | {events:.0} | {:.2} |",
            events / baseline
        );
    }
}

// The same allocator as the `purr` binary (src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
