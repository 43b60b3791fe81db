//! Several hosts on one PostgreSQL database (`PURR_TEST_DB=postgres`; on
//! SQLite there is one host and nothing to test). Three `purr run`
//! processes share 30 sim sessions under traffic: one is killed with
//! SIGKILL, and its sessions move to the others once its leases expire;
//! one is paused (SIGSTOP) past the expiry and resumed: its sessions were
//! taken over, it sends nothing for them, and the two left share again;
//! the last stops with SIGTERM and hands its leases back at once. In the
//! end every message has exactly one reply, in order.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{KillOnDrop, PATIENCE, TestConfig, free_port, purr_command, sim_queue, sim_sent};
use sqlx::Connection as _;

const SESSIONS: usize = 30;
const CHUNK: usize = 20;
/// Leases expire after this (renewed every tenth of it): long enough that a
/// host on a busy 2-core machine does not miss renewals and lose sessions.
const EXPIRY: Duration = Duration::from_millis(2500);

fn config() -> Option<TestConfig> {
    let mut body = String::from("[plugins.echo]\npath = \"{echo}\"\n");
    for n in 0..SESSIONS {
        body.push_str(&format!(
            "\n[sessions.s{n:02}]\nchannel = \"sim\"\nplugins = [\"echo\"]\n"
        ));
    }
    let host =
        "api = \"127.0.0.1:${PURR_API_PORT}\"\nid = \"${PURR_HOST}\"\nlease_renew_ms = 250\nlease_expiry_ms = 2500";
    let config = TestConfig::with_host(host, &body);
    if config.database.is_none() {
        eprintln!(
            "skipped: hosts share sessions on PostgreSQL only (run with PURR_TEST_DB=postgres, as scripts/test does)"
        );
        return None;
    }
    let text = std::fs::read_to_string(&config.path)
        .unwrap()
        .replace("[sim]\n", "[sim]\nkeep_sent = true\n");
    std::fs::write(&config.path, text).unwrap();
    Some(config)
}

/// A host named `host`, its API on `port`.
fn run(config: &TestConfig, host: &str, port: u16) -> KillOnDrop {
    KillOnDrop(
        purr_command(config, &["run"])
            .env("PURR_HOST", host)
            .env("PURR_API_PORT", port.to_string())
            .spawn()
            .expect("purr run"),
    )
}

/// `purr <args>` against the API on `port`: (success, stdout, stderr).
fn remote(config: &TestConfig, port: u16, args: &[&str]) -> (bool, String, String) {
    let api = format!("127.0.0.1:{port}");
    let output = purr_command(config, args)
        .args(["--api", &api])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("purr");
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap();
    (output.status.success(), text(output.stdout), text(output.stderr))
}

fn signal(host: &KillOnDrop, signal: &str) {
    let sent = Command::new("kill")
        .args([signal, &host.0.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill {signal}");
}

/// The lease table, one `(session, column)` per row, read from the database.
fn leases<T>(config: &TestConfig, column: &str) -> BTreeMap<String, T>
where
    T: Send + Unpin + for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    let url = config.database.clone().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut connection = sqlx::PgConnection::connect(&url).await.unwrap();
        let sql = format!("SELECT session, {column} FROM leases");
        // Empty until the first host has made the tables.
        let rows: Vec<(String, T)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut connection)
            .await
            .unwrap_or_default();
        rows.into_iter().collect()
    })
}

/// Who holds each session's lease now (unexpired).
fn owners(config: &TestConfig) -> BTreeMap<String, Option<String>> {
    leases(config, "CASE WHEN expires_at > now() THEN owner END")
}

/// Each session's fencing number now.
fn fences(config: &TestConfig) -> BTreeMap<String, i64> {
    leases(config, "fence")
}

/// Waits until every session is held, by the hosts `allowed` only.
fn wait_owned_by(config: &TestConfig, allowed: &[&str], why: &str) -> BTreeMap<String, Option<String>> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let owners = owners(config);
        let all = owners.len() == SESSIONS
            && (owners.values()).all(|owner| owner.as_deref().is_some_and(|owner| allowed.contains(&owner)));
        if all {
            return owners;
        }
        assert!(Instant::now() < deadline, "{why}: leases are {owners:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn count(owners: &BTreeMap<String, Option<String>>, host: &str) -> usize {
    owners.values().filter(|owner| owner.as_deref() == Some(host)).count()
}

fn queue_round(config: &TestConfig, round: usize) {
    for n in 0..SESSIONS {
        let texts: Vec<String> = (round * CHUNK..(round + 1) * CHUNK)
            .map(|i| format!("!echo s{n:02}-{i}"))
            .collect();
        sim_queue(config, &format!("s{n:02}"), &texts);
    }
}

fn wait_replies(config: &TestConfig, per_session: usize) {
    let deadline = Instant::now() + PATIENCE * 4;
    for n in 0..SESSIONS {
        let session = format!("s{n:02}");
        while sim_sent(config, &session).len() < per_session {
            assert!(Instant::now() < deadline, "{session}: replies missing");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[test]
fn hosts_share_sessions_take_over_the_dead_and_fence_the_paused() {
    let Some(config) = config() else { return };
    // `purr sim send`/`sim log` read the same config, which names its host
    // by `${PURR_HOST}`. SAFETY: set before any thread of this test starts.
    unsafe {
        std::env::set_var("PURR_HOST", "tools");
        std::env::set_var("PURR_API_PORT", "0");
    }
    let ports = [free_port(), free_port(), free_port()];
    let h1 = run(&config, "h1", ports[0]);
    let h2 = run(&config, "h2", ports[1]);
    let h3 = run(&config, "h3", ports[2]);
    let shared = wait_owned_by(&config, &["h1", "h2", "h3"], "three hosts take all sessions");
    for host in ["h1", "h2", "h3"] {
        assert!(count(&shared, host) > 0, "{host} runs none of them: {shared:?}");
    }

    // Each host is ready once the sessions it runs are up (the others'
    // sessions, stopped here, do not hold it back).
    for port in ports {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let (ok, _, error) = remote(&config, port, &["health", "--ready"]);
            if ok {
                break;
            }
            assert!(Instant::now() < deadline, "host on port {port} never ready: {error}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    // Any host lists every session with the host running it.
    let (ok, listed, error) = remote(&config, ports[1], &["list", "--json"]);
    assert!(ok, "purr list: {error}");
    let listed: Vec<serde_json::Value> = serde_json::from_str(&listed).unwrap();
    let listed: BTreeMap<String, Option<String>> = (listed.iter())
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["owner"].as_str().map(str::to_string),
            )
        })
        .collect();
    assert_eq!(listed, owners(&config), "h2 lists every session with its owner");
    // A lifecycle action on a session another host runs is refused, naming it.
    let (elsewhere, owner) = (shared.iter())
        .find_map(|(session, owner)| owner.as_deref().filter(|o| *o != "h2").map(|o| (session, o)))
        .unwrap();
    let (ok, _, error) = remote(&config, ports[1], &["disconnect", elsewhere]);
    assert!(!ok && error.contains(owner), "disconnect of {elsewhere} on h2: {error}");

    // SIGKILL mid-traffic: h1's sessions go to h2 and h3 once its leases expire.
    queue_round(&config, 0);
    let mut h1 = h1;
    h1.0.kill().unwrap();
    h1.0.wait().unwrap();
    wait_owned_by(&config, &["h2", "h3"], "h1's sessions taken over");
    wait_replies(&config, CHUNK);

    // SIGSTOP h2 past the expiry: h3 takes everything. h2, resumed, finds
    // its leases gone (every one it held was taken, at a higher fencing
    // number: its writes are refused, it sends nothing for them), and the
    // two hosts share the sessions again (h3 hands some over).
    let before = fences(&config);
    let paused: Vec<String> = (owners(&config).into_iter())
        .filter_map(|(session, owner)| (owner.as_deref() == Some("h2")).then_some(session))
        .collect();
    assert!(!paused.is_empty());
    signal(&h2, "-STOP");
    std::thread::sleep(EXPIRY * 3);
    queue_round(&config, 1);
    wait_owned_by(&config, &["h3"], "the paused host's sessions taken over");
    signal(&h2, "-CONT");
    wait_replies(&config, 2 * CHUNK);
    let deadline = Instant::now() + PATIENCE;
    while count(&owners(&config), "h2") == 0 {
        assert!(Instant::now() < deadline, "h2 never got a share back");
        std::thread::sleep(Duration::from_millis(50));
    }
    let after = fences(&config);
    for session in &paused {
        assert!(
            after[session] > before[session],
            "{session} was taken from h2 ({before:?} -> {after:?})"
        );
    }

    // A clean stop hands the leases back at once (not after the expiry).
    signal(&h3, "-TERM");
    let mut h3 = h3;
    assert!(h3.0.wait().unwrap().success(), "h3 exits 0 on SIGTERM");
    let released = owners(&config);
    assert_eq!(
        count(&released, "h3"),
        0,
        "h3 released its leases on stop: {released:?}"
    );
    wait_owned_by(&config, &["h2"], "h2 takes what h3 released");
    queue_round(&config, 2);
    wait_replies(&config, 3 * CHUNK);
    signal(&h2, "-TERM");
    let mut h2 = h2;
    assert!(h2.0.wait().unwrap().success(), "h2 exits 0 on SIGTERM");

    for n in 0..SESSIONS {
        let session = format!("s{n:02}");
        let expected: Vec<String> = (0..3 * CHUNK).map(|i| format!("{session}-{i}")).collect();
        assert_eq!(
            sim_sent(&config, &session),
            expected,
            "{session}: every message answered once, in order"
        );
    }
}
