//! Several hosts on one PostgreSQL database (issue 16): how long the
//! sessions of a host killed with SIGKILL stay unserved, and what renewing
//! leases costs a host holding many.
//!
//! Run with `scripts/bench takeover` (it starts a durable PostgreSQL
//! server and builds the plugins), or `PURR_BENCH_PG=<server URL> cargo
//! bench --bench takeover [-- takeover|renewal]` (each bench database is
//! created fresh on that server and dropped after). Without `PURR_BENCH_PG`
//! it says so and measures nothing.
//!
//! `takeover`: two `purr run` processes (the release build of this
//! checkout, or `PURR_BENCH_BIN`) share 10 sim sessions running the Rust
//! `echo`, with `lease_renew_ms = 200` and `lease_expiry_ms = 1000`, five
//! each. One of them (each in turn) is killed with SIGKILL at a random
//! point of its renew cycle, and `purr sim send` queues a message to one
//! of its sessions at once. Measured from the kill: until the `leases`
//! table shows all ten sessions held by the survivor (polled every 5 ms),
//! and until the reply to that message is in `sim_sent` (`[sim]
//! keep_sent`). The baseline is the floor, measured in the same round: what
//! was left of the killed host's leases at the kill (the expiry less the
//! time since its last renewal); the survivor takes them at its first tick
//! after that, so up to one renew interval later. The killed host is then
//! restarted and gets its five back (the survivor hands them over), 20
//! kills in all. p99 of 20 is the slowest.
//!
//! `renewal`: one host's lease bookkeeping in this process, on a table of
//! 10,000 leases: it holds 0, 1,000 or all 10,000 of them and runs the
//! store calls of one lease tick (`host_heartbeat`, `leases_renew` — one
//! `UPDATE … FROM UNNEST` —, `leases_running`, and the in-memory updates)
//! 50 times. Per tick: the wall time of `leases_renew` and of the whole
//! tick, this process's CPU (the host's) and the database server's (when
//! it runs on this machine), the WAL written, the share of the updates
//! PostgreSQL made in place (HOT) and the table's size after; the share
//! of one core at the default `lease_renew_ms = 2000`. The baseline is the
//! host holding none. A last row holds 10,000 again after the table was
//! rewritten with `fillfactor = 50` (in the bench's database only): room
//! on each page for a row's next version, so a renewal can be made in
//! place instead of adding index entries.

#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use purr::store::Store;
use sqlx::{Connection as _, PgConnection};
use support::{PgDatabase, PgServerCpu, cpu_self, pg_durability};

const SESSIONS: usize = 10;
const KILLS: usize = 20;
const RENEW: Duration = Duration::from_millis(200);
const EXPIRY: Duration = Duration::from_millis(1000);
const POLL: Duration = Duration::from_millis(5);
/// How long anything the bench waits for may take before it gives up.
const PATIENCE: Duration = Duration::from_secs(60);

const LEASES: usize = 10_000;
/// Leases held, and the `leases` table's fillfactor (the migration's: 100).
const HELD: [(usize, u32); 4] = [(0, 100), (1_000, 100), (LEASES, 100), (LEASES, 50)];
const TICKS: usize = 50;
const WARM_UP_TICKS: usize = 5;
/// The default `lease_renew_ms`, for the share of a core.
const DEFAULT_RENEW: Duration = Duration::from_millis(2000);

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    // `cargo bench` passes `--bench`; other words name the parts to run.
    let parts: Vec<String> = std::env::args().skip(1).filter(|arg| !arg.starts_with("--")).collect();
    let wanted = |part: &str| parts.is_empty() || parts.iter().any(|p| p == part);
    let Some(server) = std::env::var("PURR_BENCH_PG").ok().filter(|url| !url.is_empty()) else {
        eprintln!("takeover: skipped, PURR_BENCH_PG is not set (scripts/bench takeover starts a server)");
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    println!("{}", runtime.block_on(pg_durability(&server)));
    if wanted("takeover") {
        runtime.block_on(takeover(&server));
    }
    if wanted("renewal") {
        runtime.block_on(renewal(&server));
    }
}

/// The `purr` binary to run: `PURR_BENCH_BIN`, else the one cargo built
/// with this bench (`target/release/purr`).
fn purr_binary() -> PathBuf {
    let binary = match std::env::var_os("PURR_BENCH_BIN") {
        Some(path) => PathBuf::from(path),
        None => match option_env!("CARGO_BIN_EXE_purr") {
            Some(path) => PathBuf::from(path),
            // target/release/deps/takeover-<hash> -> target/release/purr
            None => std::env::current_exe()
                .unwrap()
                .parent()
                .unwrap()
                .parent()
                .unwrap()
                .join("purr"),
        },
    };
    assert!(
        binary.is_file(),
        "{} missing: cargo build --release --bin purr",
        binary.display()
    );
    binary
}

/// The hosts' config: `id` from `PURR_HOST`, SQLite nowhere.
fn write_config(dir: &Path, database: &str) -> PathBuf {
    let echo = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/dist/echo.wasm");
    assert!(echo.is_file(), "{} missing: run scripts/build-plugins", echo.display());
    let mut text = format!(
        "[host]\ndata_dir = \"data\"\ndatabase = \"{database}\"\napi = \"127.0.0.1:0\"\nid = \"${{PURR_HOST}}\"\n\
         lease_renew_ms = {}\nlease_expiry_ms = {}\n\n[sim]\npair_delay_ms = 0\nkeep_sent = true\n\n\
         [plugins.echo]\npath = \"{}\"\n",
        RENEW.as_millis(),
        EXPIRY.as_millis(),
        echo.display()
    );
    for n in 0..SESSIONS {
        text.push_str(&format!(
            "\n[sessions.s{n:02}]\nchannel = \"sim\"\nplugins = [\"echo\"]\n"
        ));
    }
    let path = dir.join("purr.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A `purr run` host named `name`, its log in `dir/<name>.log`.
struct HostProcess {
    name: &'static str,
    child: Child,
}

impl HostProcess {
    fn start(binary: &Path, config: &Path, name: &'static str) -> HostProcess {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(config.with_file_name(format!("{name}.log")))
            .unwrap();
        let child = Command::new(binary)
            .args(["run", "-c"])
            .arg(config)
            .env("PURR_HOST", name)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("purr run");
        HostProcess { name, child }
    }

    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, and the exit awaited: a clean stop hands the leases back.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success(), "kill -TERM {pid}");
        self.child.wait().unwrap();
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sessions each host holds now (unexpired leases).
async fn held_by(db: &mut PgConnection, host: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM leases WHERE owner = $1 AND expires_at > now()")
        .bind(host)
        .fetch_one(db)
        .await
        .unwrap()
}

/// Replies recorded for `session` so far.
async fn replies(db: &mut PgConnection, session: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM sim_sent WHERE session = $1")
        .bind(session)
        .fetch_one(db)
        .await
        .unwrap()
}

/// Waits until each of `hosts` holds its share of the sessions.
async fn wait_balanced(db: &mut PgConnection, hosts: [&str; 2]) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut balanced = true;
        for host in hosts {
            balanced &= held_by(db, host).await == (SESSIONS / hosts.len()) as i64;
        }
        if balanced {
            return;
        }
        assert!(Instant::now() < deadline, "{hosts:?} never shared the sessions evenly");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One kill's figures.
struct Kill {
    /// What was left of the killed host's leases at the kill.
    left: Duration,
    /// Kill → every session held by the survivor.
    taken: Duration,
    /// Kill → the reply to the message queued after the kill.
    reply: Duration,
    /// Kill → that message queued (`purr sim send` returned).
    queued: Duration,
}

async fn takeover(server: &str) {
    let binary = purr_binary();
    let database = PgDatabase::create(server, "bench_takeover", &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &database.url);
    // The schema, before anything reads it.
    Store::open_url(&database.url).await.unwrap().close().await;
    let mut db = PgConnection::connect(&database.url).await.unwrap();
    let mut hosts = [
        HostProcess::start(&binary, &config, "a"),
        HostProcess::start(&binary, &config, "b"),
    ];
    wait_balanced(&mut db, ["a", "b"]).await;

    let mut kills = Vec::with_capacity(KILLS);
    for round in 0..KILLS {
        // A random point of the hosts' renew cycles.
        let jitter = Duration::from_micros(rand::random_range(0..RENEW.as_micros() as u64));
        tokio::time::sleep(2 * RENEW + jitter).await;
        // Each host in turn is killed; a message goes to one of its sessions.
        let (victim, survivor) = (round % 2, 1 - round % 2);
        let (name, other) = (hosts[victim].name, hosts[survivor].name);
        let its: Vec<String> =
            sqlx::query_scalar("SELECT session FROM leases WHERE owner = $1 AND expires_at > now() ORDER BY session")
                .bind(name)
                .fetch_all(&mut db)
                .await
                .unwrap();
        assert_eq!(its.len(), SESSIONS / 2, "{name} holds its share");
        let session = its[round / 2 % its.len()].clone();
        let replies_before = replies(&mut db, &session).await;

        let killed_at = Instant::now();
        hosts[victim].kill();
        let left_ms: f64 = sqlx::query_scalar(
            "SELECT extract(epoch FROM max(expires_at) - clock_timestamp())::float8 * 1000 FROM leases WHERE owner = $1",
        )
        .bind(name)
        .fetch_one(&mut db)
        .await
        .unwrap();
        // As it was at the kill: the query ran a little after.
        let left = Duration::from_secs_f64((left_ms / 1000.0 + killed_at.elapsed().as_secs_f64()).max(0.0));
        let sent = Command::new(&binary)
            .args(["sim", "send", &session, &format!("!echo kill-{round}"), "-c"])
            .arg(&config)
            .env("PURR_HOST", "bench")
            .env("RUST_LOG", "warn")
            .status()
            .unwrap();
        assert!(sent.success(), "purr sim send");
        let queued = killed_at.elapsed();

        let (mut taken, mut reply) = (None, None);
        let deadline = killed_at + PATIENCE;
        while taken.is_none() || reply.is_none() {
            if taken.is_none() && held_by(&mut db, other).await == SESSIONS as i64 {
                taken = Some(killed_at.elapsed());
            }
            if reply.is_none() && replies(&mut db, &session).await > replies_before {
                reply = Some(killed_at.elapsed());
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: no takeover (taken {taken:?}, reply {reply:?})"
            );
            tokio::time::sleep(POLL).await;
        }
        let kill = Kill {
            left,
            taken: taken.unwrap(),
            reply: reply.unwrap(),
            queued,
        };
        let ms = |duration: Duration| duration.as_secs_f64() * 1000.0;
        eprintln!(
            "kill {round:2} of {name}: leases left {:4.0} ms, taken {:4.0} ms, reply {:4.0} ms, message queued {:4.0} ms",
            ms(kill.left),
            ms(kill.taken),
            ms(kill.reply),
            ms(kill.queued)
        );
        if kill.queued > kill.taken {
            eprintln!("  (the message was queued after the takeover: its reply time is `purr sim send`'s)");
        }
        kills.push(kill);

        // The killed host comes back and the survivor hands it its share.
        hosts[victim] = HostProcess::start(&binary, &config, name);
        wait_balanced(&mut db, ["a", "b"]).await;
    }
    for host in hosts {
        host.stop();
    }
    db.close().await.unwrap();
    database.drop_database().await;

    let column = |pick: fn(&Kill) -> Duration| -> Vec<f64> {
        kills.iter().map(|kill| pick(kill).as_secs_f64() * 1000.0).collect()
    };
    let left = column(|kill| kill.left);
    let taken = column(|kill| kill.taken);
    let past = column(|kill| kill.taken.saturating_sub(kill.left));
    let reply = column(|kill| kill.reply);
    let queued = column(|kill| kill.queued);
    let floor = percentile(&left, 50);
    println!();
    println!(
        "takeover after SIGKILL: 2 hosts, {SESSIONS} sessions (5 each), lease_renew_ms = {}, lease_expiry_ms = {}, {KILLS} kills (p99 of {KILLS} is the slowest)",
        RENEW.as_millis(),
        EXPIRY.as_millis()
    );
    println!("| from the kill | p50 | p99 | min | p50 ratio to the floor |");
    println!("|---|---|---|---|---|");
    for (name, samples) in [
        ("leases left at the kill: the floor (baseline)", &left),
        ("every session held by the survivor", &taken),
        (
            "  of which past the leases' expiry (the survivor's tick, the take)",
            &past,
        ),
        ("first reply to a message queued after the kill", &reply),
        ("  (that message queued: `purr sim send` returned)", &queued),
    ] {
        let ratio = if name.starts_with("  ") {
            String::new()
        } else {
            format!("{:.2}", percentile(samples, 50) / floor)
        };
        println!(
            "| {name} | {:.0} ms | {:.0} ms | {:.0} ms | {ratio} |",
            percentile(samples, 50),
            percentile(samples, 99),
            samples.iter().copied().fold(f64::INFINITY, f64::min),
        );
    }
    println!(
        "configured expiry {} ms: takeover p50 {:.2}x, p99 {:.2}x of it; expected within [expiry - renew, expiry + renew] = [{}, {}] ms plus the take",
        EXPIRY.as_millis(),
        percentile(&taken, 50) / EXPIRY.as_secs_f64() / 1000.0,
        percentile(&taken, 99) / EXPIRY.as_secs_f64() / 1000.0,
        (EXPIRY - RENEW).as_millis(),
        (EXPIRY + RENEW).as_millis()
    );
}

/// The nearest-rank percentile `p` of `samples`.
fn percentile(samples: &[f64], p: usize) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// One host's lease ticks while it holds a number of leases.
struct Ticks {
    held: usize,
    fillfactor: u32,
    /// `leases_renew` alone, per tick (ms).
    renew: Vec<f64>,
    /// The whole tick (ms).
    tick: Vec<f64>,
    host_cpu: Duration,
    server_cpu: Option<Duration>,
    wal_bytes: i64,
    /// Of the lease rows updated, the share updated in place (HOT: no new
    /// index entries), and the table's size (with its indexes) after.
    hot: Option<f64>,
    table_bytes: i64,
}

async fn renewal(server: &str) {
    let database = PgDatabase::create(server, "bench_renewal", &[]).await;
    let store = Store::open_url(&database.url).await.unwrap();
    let server_cpu = PgServerCpu::find(server).await;
    let host = "bench";
    // Long enough that nothing expires between the rows of the table.
    let expiry = Duration::from_secs(3600);
    let names: Vec<String> = (0..LEASES).map(|n| format!("session-{n:05}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    store.leases_register(&refs).await.unwrap();
    let mut taken = store.leases_take_free(host, LEASES as i64, expiry).await.unwrap();
    assert_eq!(taken.len(), LEASES, "every lease taken");
    taken.sort();
    let leases = store.leases();

    let mut db = PgConnection::connect(&database.url).await.unwrap();
    let mut rows = Vec::new();
    for (held, fillfactor) in HELD {
        if fillfactor != 100 {
            // Room on each page for the next version of its rows.
            for sql in [
                format!("ALTER TABLE leases SET (fillfactor = {fillfactor})"),
                "VACUUM FULL leases".into(),
            ] {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut db).await.unwrap();
            }
        }
        for (session, _) in leases.held() {
            leases.drop_lease(&session);
        }
        for (session, fence) in &taken[..held] {
            leases.hold(session, *fence, Instant::now(), expiry);
        }
        for _ in 0..WARM_UP_TICKS {
            tick(&store, host, expiry).await;
        }
        settle().await;
        let updates_before = lease_updates(&mut db).await;
        let wal_before = wal_bytes(server).await;
        let (host_before, server_before) = (cpu_self(), server_cpu.as_ref().map(PgServerCpu::now));
        let (mut renew, mut whole) = (Vec::with_capacity(TICKS), Vec::with_capacity(TICKS));
        for _ in 0..TICKS {
            let started = Instant::now();
            let renewed = tick(&store, host, expiry).await;
            whole.push(started.elapsed().as_secs_f64() * 1000.0);
            renew.push(renewed.as_secs_f64() * 1000.0);
        }
        let host_cpu = cpu_self() - host_before;
        let server_after = server_cpu.as_ref().map(PgServerCpu::now);
        let wal_bytes = wal_bytes(server).await - wal_before;
        settle().await;
        let updates = lease_updates(&mut db).await;
        let (all, hot) = (updates.0 - updates_before.0, updates.1 - updates_before.1);
        let table_bytes = sqlx::query_scalar("SELECT pg_total_relation_size('leases')")
            .fetch_one(&mut db)
            .await
            .unwrap();
        rows.push(Ticks {
            held,
            fillfactor,
            renew,
            tick: whole,
            host_cpu,
            server_cpu: server_before.zip(server_after).map(|(before, after)| after - before),
            wal_bytes,
            hot: (all > 0).then(|| hot as f64 / all as f64),
            table_bytes,
        });
        eprintln!("renewal: {held} leases held (fillfactor {fillfactor}) measured");
    }
    db.close().await.unwrap();
    store.close().await;
    database.drop_database().await;

    println!();
    println!(
        "lease renewal, one host, {LEASES} lease rows, {TICKS} ticks after {WARM_UP_TICKS} (share of a core at lease_renew_ms = {})",
        DEFAULT_RENEW.as_millis()
    );
    println!(
        "| leases held | leases_renew p50 / p99 | tick p50 | ratio to 0 held | host CPU / tick | core share, host | server CPU / tick | core share, server | WAL / tick | updated in place (HOT) | table + indexes after |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let base = percentile(&rows[0].tick, 50);
    for row in &rows {
        let host_cpu = row.host_cpu / TICKS as u32;
        let server_cpu = row.server_cpu.map(|cpu| cpu / TICKS as u32);
        let share = |cpu: Duration| format!("{:.2}%", cpu.as_secs_f64() / DEFAULT_RENEW.as_secs_f64() * 100.0);
        let held = match row.fillfactor {
            100 => format!("{}", row.held),
            fillfactor => format!("{}, table fillfactor {fillfactor}", row.held),
        };
        println!(
            "| {held} | {:.2} / {:.2} ms | {:.2} ms | {:.1} | {:.2} ms | {} | {} | {} | {:.1} KiB | {} | {} |",
            percentile(&row.renew, 50),
            percentile(&row.renew, 99),
            percentile(&row.tick, 50),
            percentile(&row.tick, 50) / base,
            host_cpu.as_secs_f64() * 1000.0,
            share(host_cpu),
            server_cpu.map_or("-".into(), |cpu| format!("{:.2} ms", cpu.as_secs_f64() * 1000.0)),
            server_cpu.map_or("-".into(), share),
            row.wal_bytes as f64 / TICKS as f64 / 1024.0,
            row.hot.map_or("-".into(), |hot| format!("{:.0}%", hot * 100.0)),
            support::mib(row.table_bytes as f64),
        );
    }
}

/// The store calls and bookkeeping of one lease tick of a host that holds
/// what it holds and wants no more (`Supervisor::lease_tick`); returns how
/// long `leases_renew` took.
async fn tick(store: &Store, host: &str, expiry: Duration) -> Duration {
    let leases = store.leases();
    let sent = Instant::now();
    let held = leases.held();
    store.host_heartbeat(host, expiry).await.unwrap();
    let renew_started = Instant::now();
    let kept = store.leases_renew(host, &held, expiry).await.unwrap();
    let renew = renew_started.elapsed();
    assert_eq!(kept.len(), held.len(), "every lease renewed");
    leases.renewed(&kept, sent, expiry);
    let kept: BTreeSet<String> = kept.into_iter().collect();
    let lost = (held.iter()).filter(|(session, _)| !(kept.contains(session) && leases.fence(session).is_some()));
    assert_eq!(lost.count(), 0);
    store.leases_running().await.unwrap();
    renew
}

/// Waits until the server has the table counters of the pool's idle
/// backends: a backend reports them within 10 s of going idle.
async fn settle() {
    tokio::time::sleep(Duration::from_secs(11)).await;
}

/// Rows of `leases` updated so far, and of them updated in place (HOT).
async fn lease_updates(db: &mut PgConnection) -> (i64, i64) {
    sqlx::query_as("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'leases'")
        .fetch_one(db)
        .await
        .unwrap()
}

/// The server's WAL position, in bytes.
async fn wal_bytes(server: &str) -> i64 {
    let mut connection = PgConnection::connect(server).await.unwrap();
    let bytes = sqlx::query_scalar("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::int8")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    connection.close().await.unwrap();
    bytes
}

// The same allocator as the `purr` binary (src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
