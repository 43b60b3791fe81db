//! Crash test with the real binary: `purr run` on the sim channel gets a
//! stream of messages for several sessions (through `purr sim send`, the
//! sim network's persistent inbox), is killed with SIGKILL at arbitrary
//! points several times and restarted; in the end every message has
//! exactly one reply, in order, in each session's sent log. The last run
//! is stopped with SIGTERM and must exit 0.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{KillOnDrop, PATIENCE, TestConfig, purr_command, sim_queue, sim_sent};

const SESSIONS: [&str; 3] = ["a", "b", "c"];
const MESSAGES_PER_SESSION: usize = 1200;
const KILLS: usize = 5;

const CONFIG: &str = r#"
[plugins.echo]
path = "{echo}"

[sessions.a]
channel = "sim"
plugins = ["echo"]

[sessions.b]
channel = "sim"
plugins = ["echo"]

[sessions.c]
channel = "sim"
plugins = ["echo"]
"#;

/// How many replies all sessions sent so far, read straight from the database.
fn replies_so_far(config: &TestConfig) -> u64 {
    let url = config.database_url();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use sqlx::Connection as _;
        const COUNT: &str = "SELECT count(*) FROM sim_sent";
        let count: Result<i64, sqlx::Error> = if config.database.is_some() {
            match sqlx::PgConnection::connect(&url).await {
                Ok(mut connection) => sqlx::query_scalar(COUNT).fetch_one(&mut connection).await,
                Err(error) => Err(error),
            }
        } else {
            match sqlx::SqliteConnection::connect(&url).await {
                Ok(mut connection) => sqlx::query_scalar(COUNT).fetch_one(&mut connection).await,
                Err(error) => Err(error),
            }
        };
        count.unwrap_or(0) as u64
    })
}

/// Starts `purr run`; it is killed if the test fails before stopping it.
fn run(config: &TestConfig) -> KillOnDrop {
    KillOnDrop(purr_command(config, &["run"]).spawn().expect("purr run"))
}

/// A small deterministic generator for kill points (xorshift).
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn sigkill_at_random_points_loses_nothing_and_sends_nothing_twice() {
    // Port 0: the control API takes any free port, so this test never
    // collides with another host on the machine.
    let config = TestConfig::with_host("api = \"127.0.0.1:0\"", CONFIG);
    // The sent log must outlive the process, like a real network's.
    let text = std::fs::read_to_string(&config.path)
        .unwrap()
        .replace("[sim]\n", "[sim]\nkeep_sent = true\n");
    std::fs::write(&config.path, text).unwrap();

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("crash test seed: {seed}");
    let mut dice = Dice(seed);

    let expected =
        |session: &str| -> Vec<String> { (0..MESSAGES_PER_SESSION).map(|i| format!("{session}-{i}")).collect() };
    // The stream arrives in chunks, one before each run.
    let chunk = MESSAGES_PER_SESSION / (KILLS + 1);
    for round in 0..=KILLS {
        for session in SESSIONS {
            let texts: Vec<String> = expected(session)[round * chunk..(round + 1) * chunk]
                .iter()
                .map(|t| format!("!echo {t}"))
                .collect();
            sim_queue(&config, session, &texts);
        }
        let mut host = run(&config);
        if round < KILLS {
            // Kill once the replies reach a random point of this chunk (the
            // first run sometimes before any reply, during start-up).
            let done_before = (round * chunk * SESSIONS.len()) as u64;
            let target = done_before + dice.below((chunk * SESSIONS.len()) as u64);
            let deadline = Instant::now() + PATIENCE;
            while replies_so_far(&config) < target && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            host.0.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
            host.0.wait().unwrap();
            eprintln!(
                "run {round}: killed at {} replies (aimed at {target}; {} queued so far)",
                replies_so_far(&config),
                (round + 1) * chunk * SESSIONS.len()
            );
        } else {
            // The last run: wait for every reply, then stop it gracefully.
            let deadline = Instant::now() + PATIENCE * 4;
            while SESSIONS
                .iter()
                .any(|s| sim_sent(&config, s).len() < MESSAGES_PER_SESSION)
            {
                assert!(Instant::now() < deadline, "replies missing after the last restart");
                std::thread::sleep(Duration::from_millis(200));
            }
            let terminated = Command::new("kill")
                .args(["-TERM", &host.0.id().to_string()])
                .status()
                .unwrap();
            assert!(terminated.success());
            let status = host.0.wait().unwrap();
            assert!(status.success(), "purr run did not stop cleanly on SIGTERM: {status}");
        }
    }
    for session in SESSIONS {
        assert_eq!(
            sim_sent(&config, session),
            expected(session),
            "session {session}: every message answered once, in order (seed {seed})"
        );
    }
}
