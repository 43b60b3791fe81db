//! Inbound events/s end to end on the sim channel, with and without the
//! journal: message in → journal → session task → Rust `echo` plugin →
//! completion + outbox → sim network, for several sessions at once.
//!
//! Run with `cargo bench --bench throughput` (after `scripts/build-plugins`).
//! The baseline is the same pipeline with `[host] journal = false`, measured
//! in the same run; sends go through the outbox in both. The C, JavaScript
//! and Python echo plugins run the same workload with the journal on.
//!
//! A second table compares the Rust echo plugin with the same pipeline
//! with a native Rust handler in the plugin's place (`pipeline::NativeEcho`,
//! registered with `Supervisor::add_native`: the same kv and messaging
//! calls), with the journal on (the comparison) and off (where
//! the handler's own cost weighs more): the cost of running the handler
//! as a sandboxed wasm component.

#[path = "pipeline/mod.rs"]
mod pipeline;
#[path = "support/mod.rs"]
mod support;

use pipeline::{EVENTS_PER_SESSION, SESSIONS, events_per_second, events_per_second_native, events_per_second_with};
use support::median;

const ROUNDS: usize = 3;

/// The other languages' echo plugins, measured with the journal on.
const OTHER_LANGUAGES: [(&str, &str); 3] = [("echo-c", "C"), ("echo-js", "JavaScript"), ("echo-py", "Python")];

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (mut off, mut on, mut native, mut native_off) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut languages: Vec<Vec<f64>> = vec![Vec::new(); OTHER_LANGUAGES.len()];
    for _ in 0..ROUNDS {
        off.push(runtime.block_on(events_per_second(false)));
        on.push(runtime.block_on(events_per_second(true)));
        native.push(runtime.block_on(events_per_second_native(true)));
        native_off.push(runtime.block_on(events_per_second_native(false)));
        for (samples, (plugin, _)) in languages.iter_mut().zip(OTHER_LANGUAGES) {
            samples.push(runtime.block_on(events_per_second_with(true, plugin)));
        }
    }
    let (off, on, native, native_off) = (median(off), median(on), median(native), median(native_off));
    println!("throughput, {SESSIONS} sessions x {EVENTS_PER_SESSION} events, median of {ROUNDS}");
    println!("| pipeline | events/s | ratio |");
    println!("|---|---|---|");
    println!("| Rust echo, journal off (baseline) | {off:.0} | 1.00 |");
    println!(
        "| Rust echo, journal on (SQLite WAL, group commit) | {on:.0} | {:.2} |",
        on / off
    );
    for (samples, (_, language)) in languages.into_iter().zip(OTHER_LANGUAGES) {
        let events = median(samples);
        println!("| {language} echo, journal on | {events:.0} | {:.2} |", events / off);
    }
    println!();
    println!("wasm vs native handler, same run");
    println!("| handler | journal | events/s | ratio to native |");
    println!("|---|---|---|---|");
    println!("| native Rust handler (baseline) | on | {native:.0} | 1.00 |");
    println!("| Rust echo plugin (wasm) | on | {on:.0} | {:.2} |", on / native);
    println!("| native Rust handler (baseline) | off | {native_off:.0} | 1.00 |");
    println!("| Rust echo plugin (wasm) | off | {off:.0} | {:.2} |", off / native_off);
}

// The same allocator as the `purr` binary (src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
