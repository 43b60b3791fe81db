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
//!
//! With `PURR_BENCH_PG` set to a PostgreSQL server's URL (`scripts/bench
//! throughput` starts one, durable: see its `pg_server`), a third table
//! puts the same journal-on run with the store on PostgreSQL (a fresh
//! database per run) next to the SQLite one of the same round, once with
//! the server's settings and once with `synchronous_commit = off` for the
//! database (a commit does not wait for its WAL flush: what SQLite's
//! `synchronous = NORMAL` does), with what each run cost the server:
//! transactions, WAL flushes and CPU per event. `cargo bench --bench
//! throughput -- postgres` runs that table only (SQLite journal on, and
//! PostgreSQL). `cargo bench --bench throughput -- core` runs the Rust
//! echo with the journal off and on only, with the CPU each event cost
//! (the pipeline's own figure, quick to compare between two builds).

#[path = "pipeline/mod.rs"]
mod pipeline;
#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use pipeline::{EVENTS_PER_SESSION, SESSIONS, events_per_second, events_per_second_native, events_per_second_with};
use support::{PgDatabase, PgServerCpu, cpu_self, median, pg_durability};

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
    let pg_server = std::env::var("PURR_BENCH_PG").ok().filter(|url| !url.is_empty());
    // `cargo bench --bench throughput -- postgres`: the PostgreSQL table only.
    let only_pg = std::env::args().any(|arg| arg == "postgres");
    assert!(
        !only_pg || pg_server.is_some(),
        "`postgres` needs PURR_BENCH_PG (a server URL)"
    );
    if std::env::args().any(|arg| arg == "core") {
        return core(&runtime);
    }
    let (mut pg_on, mut pg_async, mut on_cpu) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        if !only_pg {
            off.push(runtime.block_on(events_per_second(false)));
        }
        let cpu_before = cpu_self();
        on.push(runtime.block_on(events_per_second(true)));
        on_cpu.push(cpu_self() - cpu_before);
        if !only_pg {
            native.push(runtime.block_on(events_per_second_native(true)));
            native_off.push(runtime.block_on(events_per_second_native(false)));
            for (samples, (plugin, _)) in languages.iter_mut().zip(OTHER_LANGUAGES) {
                samples.push(runtime.block_on(events_per_second_with(true, plugin)));
            }
        }
        if let Some(server) = &pg_server {
            pg_on.push(runtime.block_on(PgRun::measure(server, &[])));
            pg_async.push(runtime.block_on(PgRun::measure(server, &[("synchronous_commit", "off")])));
        }
    }
    let on = median(on);
    if !only_pg {
        print_tables(on, off, native, native_off, languages);
    }
    if let Some(server) = &pg_server {
        let settings = runtime.block_on(pg_durability(server));
        println!();
        println!("durable throughput, PostgreSQL vs SQLite, journal on, same run ({settings}; median of {ROUNDS})");
        println!(
            "| store | events/s | ratio to SQLite | server: transactions/event | WAL flushes/event | CPU/event, host / server |"
        );
        println!("|---|---|---|---|---|---|");
        let on_cpu = median(on_cpu).as_secs_f64() * 1e6 / (SESSIONS * EVENTS_PER_SESSION) as f64;
        println!("| SQLite, WAL, synchronous=NORMAL (baseline) | {on:.0} | 1.00 | | | {on_cpu:.1} µs (in process) |");
        for (name, runs) in [
            ("PostgreSQL, the server's settings", pg_on),
            ("PostgreSQL, synchronous_commit=off", pg_async),
        ] {
            let run = PgRun::median(runs);
            println!(
                "| {name} | {:.0} | {:.2} | {:.3} | {:.3} | {:.1} µs / {} |",
                run.events_per_second,
                run.events_per_second / on,
                run.transactions as f64 / run.events as f64,
                run.wal_syncs as f64 / run.events as f64,
                run.host_cpu.as_secs_f64() * 1e6 / run.events as f64,
                run.server_cpu
                    .map(|cpu| format!("{:.1} µs", cpu.as_secs_f64() * 1e6 / run.events as f64))
                    .unwrap_or_else(|| "(server not local)".into()),
            );
        }
    }
}

/// `-- core`: the Rust echo, journal off and on, with CPU per event.
fn core(runtime: &tokio::runtime::Runtime) {
    let events = (SESSIONS * EVENTS_PER_SESSION) as f64;
    let mut rows: [(bool, Vec<f64>, Vec<Duration>); 2] =
        [(false, Vec::new(), Vec::new()), (true, Vec::new(), Vec::new())];
    // `-- core off` or `-- core on`: that row only (for a profile).
    let wanted = |journal: bool| !std::env::args().any(|arg| arg == if journal { "off" } else { "on" });
    for _ in 0..ROUNDS {
        for (journal, rates, cpu) in rows.iter_mut().filter(|(journal, ..)| wanted(*journal)) {
            let run = runtime.block_on(pipeline::measure(*journal, "echo"));
            rates.push(run.events_per_second);
            cpu.push(run.cpu);
        }
    }
    println!("the pipeline, Rust echo, {SESSIONS} sessions x {EVENTS_PER_SESSION} events, median of {ROUNDS}");
    println!("| journal | events/s | CPU/event |");
    println!("|---|---|---|");
    for (journal, rates, cpu) in rows.into_iter().filter(|(journal, ..)| wanted(*journal)) {
        let cpu = median(cpu).as_secs_f64() * 1e6 / events;
        println!(
            "| {} | {:.0} | {cpu:.1} µs |",
            if journal { "on" } else { "off" },
            median(rates)
        );
    }
}

/// The SQLite tables: journal on and off, other languages, wasm vs native.
fn print_tables(on: f64, off: Vec<f64>, native: Vec<f64>, native_off: Vec<f64>, languages: Vec<Vec<f64>>) {
    let (off, native, native_off) = (median(off), median(native), median(native_off));
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

/// One journal-on run on a fresh PostgreSQL database, with what it cost.
struct PgRun {
    events_per_second: f64,
    events: usize,
    /// Transactions committed in the run's database (`pg_stat_database`).
    transactions: i64,
    /// WAL flushes of the whole server during the run (`pg_stat_wal`).
    wal_syncs: i64,
    /// CPU of this process (the host) and of the server, over the run.
    host_cpu: Duration,
    server_cpu: Option<Duration>,
}

impl PgRun {
    async fn measure(server: &str, settings: &[(&str, &str)]) -> PgRun {
        let database = PgDatabase::create(server, "bench_throughput", settings).await;
        let server_cpu = PgServerCpu::find(server).await;
        let syncs_before = wal_syncs(server).await;
        let (host_before, server_before) = (cpu_self(), server_cpu.as_ref().map(PgServerCpu::now));
        let started = Instant::now();
        let events_per_second = pipeline::events_per_second_on(&database.url).await;
        let elapsed = started.elapsed();
        let host_cpu = cpu_self() - host_before;
        // The host closed its pool: its backends end, and report their
        // counts as they do (and their CPU is counted once they are gone).
        tokio::time::sleep(Duration::from_millis(500)).await;
        let server_after = server_cpu.as_ref().map(PgServerCpu::now);
        let transactions = transactions(server, &database.url).await;
        let wal_syncs = wal_syncs(server).await - syncs_before;
        database.drop_database().await;
        eprintln!("PostgreSQL {settings:?}: {events_per_second:.0} events/s, run {elapsed:.1?}");
        PgRun {
            events_per_second,
            events: SESSIONS * EVENTS_PER_SESSION,
            transactions,
            wal_syncs,
            host_cpu,
            server_cpu: server_before.zip(server_after).map(|(before, after)| after - before),
        }
    }

    /// The run with the median events/s.
    fn median(mut runs: Vec<PgRun>) -> PgRun {
        runs.sort_by(|a, b| a.events_per_second.total_cmp(&b.events_per_second));
        runs.swap_remove(runs.len() / 2)
    }
}

/// WAL flushes (`wal_sync`) of the server so far.
async fn wal_syncs(server: &str) -> i64 {
    use sqlx::Connection as _;
    let mut connection = sqlx::PgConnection::connect(server).await.unwrap();
    let syncs = sqlx::query_scalar("SELECT wal_sync FROM pg_stat_wal")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    connection.close().await.unwrap();
    syncs
}

/// Transactions committed in the database at `url` so far.
async fn transactions(server: &str, url: &str) -> i64 {
    use sqlx::Connection as _;
    let name = url.rsplit('/').next().unwrap().to_string();
    let mut connection = sqlx::PgConnection::connect(server).await.unwrap();
    let commits = sqlx::query_scalar("SELECT xact_commit FROM pg_stat_database WHERE datname = $1")
        .bind(name)
        .fetch_one(&mut connection)
        .await
        .unwrap();
    connection.close().await.unwrap();
    commits
}

// The same allocator as the `purr` binary (src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
