//! `purr backup` and `purr restore` with the real binary: a backup taken
//! while `purr run` answers a steady stream of messages, restored into a
//! new data dir and started there, brings back the sessions (one created
//! through the API), a plugin's kv value, a pending timer and WhatsApp
//! keys, and every message the backup held is answered exactly once. And
//! what both commands refuse, with the message a user reads.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{KillOnDrop, PATIENCE, TestConfig, free_port, purr_command, sim_queue, sim_sent};
use purr::channel::whatsapp::WhatsappStore;
use purr::store::Store;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection as _, SqliteConnection};
use whatsapp_rust::store::traits::{DeviceStore, SignalStore};
use whatsapp_rust::wacore::store::Device;

/// `echo` answers the stream in `s`; `probe` keeps a kv value and a timer in `p`.
const BODY: &str = r#"
[plugins.echo]
path = "{echo}"

[plugins.probe]
path = "{probe}"

[sessions.s]
channel = "sim"
plugins = ["echo"]
sends_per_minute = 1000000

[sessions.p]
channel = "sim"
plugins = ["probe"]
"#;

/// Messages queued per `purr sim send` of the stream.
const CHUNK: usize = 100;

/// A config with its own data dir and API port, keeping what sim sessions send.
fn config() -> (TestConfig, String) {
    let api = format!("127.0.0.1:{}", free_port());
    let config = TestConfig::with_host(&format!("api = \"{api}\""), BODY);
    let text = std::fs::read_to_string(&config.path)
        .unwrap()
        .replace("[sim]\n", "[sim]\nkeep_sent = true\n");
    std::fs::write(&config.path, text).unwrap();
    (config, api)
}

fn data_dir(config: &TestConfig) -> PathBuf {
    config.dir.path().join("data")
}

/// `purr <args> -c config` to its end (no token from the environment).
fn purr(config: &TestConfig, args: &[&str]) -> Output {
    purr_command(config, args)
        .env_remove("PURR_API_TOKEN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run purr")
}

fn succeeds(config: &TestConfig, args: &[&str]) -> String {
    let output = purr(config, args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "purr {args:?} failed: {stderr}");
    String::from_utf8(output.stdout).unwrap()
}

fn fails(config: &TestConfig, args: &[&str]) -> String {
    let output = purr(config, args);
    assert!(!output.status.success(), "purr {args:?} succeeded");
    String::from_utf8(output.stderr).unwrap()
}

/// `purr run`, once its API answers; killed if the test fails first.
fn run(config: &TestConfig) -> KillOnDrop {
    let host = KillOnDrop(
        purr_command(config, &["run"])
            .env_remove("PURR_API_TOKEN")
            .spawn()
            .unwrap(),
    );
    eventually("the host answers", || {
        purr(config, &["list"]).status.success().then_some(())
    });
    host
}

fn stop(mut host: KillOnDrop) {
    let pid = host.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = host.0.wait().unwrap();
    assert!(status.success(), "purr run did not stop cleanly: {status}");
}

fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(start.elapsed() < PATIENCE * 2, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn block_on<T>(future: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// A connection to an existing database file nobody else uses now (a
/// backup, a stopped host's database); the tests only read through it.
async fn read(path: &Path) -> SqliteConnection {
    let options = SqliteConnectOptions::new().filename(path);
    SqliteConnection::connect_with(&options).await.unwrap()
}

/// The stream's message numbers a database holds, waiting (inbox), in the
/// journal, or answered; and how many were answered.
fn stream_in(db: &Path) -> (BTreeSet<usize>, usize) {
    block_on(async {
        let mut connection = read(db).await;
        let mut texts: Vec<String> = Vec::new();
        for query in [
            "SELECT text FROM sim_inbox WHERE session = 's'",
            "SELECT event FROM journal WHERE session = 's'",
            "SELECT action FROM sim_sent WHERE session = 's'",
        ] {
            texts.extend(
                sqlx::query_scalar::<_, String>(query)
                    .fetch_all(&mut connection)
                    .await
                    .unwrap(),
            );
        }
        let answered: i64 = sqlx::query_scalar("SELECT count(*) FROM sim_sent WHERE session = 's'")
            .fetch_one(&mut connection)
            .await
            .unwrap();
        let numbers = texts.iter().filter_map(|text| message_number(text)).collect();
        (numbers, answered as usize)
    })
}

/// `n` of the first `m-<n>` in `text` (a text, or an event or send as JSON).
fn message_number(text: &str) -> Option<usize> {
    text.match_indices("m-").find_map(|(at, _)| {
        let digits: String = text[at + 2..].chars().take_while(char::is_ascii_digit).collect();
        let starts = at == 0 || matches!(text.as_bytes()[at - 1], b' ' | b'"');
        if starts { digits.parse().ok() } else { None }
    })
}

/// Every row of every WhatsApp table of `a` is in `b` and the reverse;
/// returns how many rows `a` has in them.
fn same_whatsapp_rows(a: &Path, b: &Path) -> i64 {
    block_on(async {
        let mut connection = read(a).await;
        sqlx::query("ATTACH DATABASE ? AS other")
            .bind(b.to_str().unwrap())
            .execute(&mut connection)
            .await
            .unwrap();
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM main.sqlite_master WHERE type = 'table' AND name LIKE 'wa\\_%' ESCAPE '\\'",
        )
        .fetch_all(&mut connection)
        .await
        .unwrap();
        assert!(tables.len() > 10, "the WhatsApp tables: {tables:?}");
        let mut rows = 0;
        for table in tables {
            let count = |sql: String| sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql));
            let differ: i64 = count(format!(
                "SELECT (SELECT count(*) FROM (SELECT * FROM main.{table} EXCEPT SELECT * FROM other.{table})) \
                 + (SELECT count(*) FROM (SELECT * FROM other.{table} EXCEPT SELECT * FROM main.{table}))"
            ))
            .fetch_one(&mut connection)
            .await
            .unwrap();
            assert_eq!(differ, 0, "rows of {table} differ");
            rows += count(format!("SELECT count(*) FROM main.{table}"))
                .fetch_one(&mut connection)
                .await
                .unwrap();
        }
        rows
    })
}

/// Creates a sim session through the API (stored in the database only).
fn create_session(config: &TestConfig, api: &str, name: &str) {
    let token = std::fs::read_to_string(data_dir(config).join("api-token")).unwrap();
    block_on(async {
        reqwest::Client::new()
            .post(format!("http://{api}/v1/sessions"))
            .bearer_auth(token.trim())
            .json(&serde_json::json!({ "name": name, "channel": "sim", "plugins": ["echo"] }))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .expect("session created");
    });
}

/// Links a WhatsApp account's keys into session `wa` of the database, as
/// pairing would; returns the device as JSON.
fn link_whatsapp_keys(config: &TestConfig) -> serde_json::Value {
    block_on(async {
        let store = Store::open(&data_dir(config)).await.unwrap();
        let keys = WhatsappStore::new(&store, "wa");
        let mut device = Device::new();
        device.push_name = "backed up".into();
        device.registration_id = 4242;
        keys.save(&device).await.unwrap();
        keys.put_identity("15550001111.0:1@s.whatsapp.net", [7; 32])
            .await
            .unwrap();
        keys.store_prekey(1, &[3; 40], true).await.unwrap();
        store.close().await;
        serde_json::to_value(&device).unwrap()
    })
}

fn whatsapp_device(config: &TestConfig) -> Option<serde_json::Value> {
    block_on(async {
        let store = Store::open(&data_dir(config)).await.unwrap();
        let keys = WhatsappStore::new(&store, "wa");
        let device = keys.load().await.unwrap().map(|d| serde_json::to_value(&d).unwrap());
        let identity = keys.load_identity("15550001111.0:1@s.whatsapp.net").await.unwrap();
        assert_eq!(identity, Some([7; 32]), "the identity key");
        store.close().await;
        device
    })
}

fn session_names(config: &TestConfig) -> Vec<String> {
    let list: serde_json::Value = serde_json::from_str(&succeeds(config, &["list", "--json"])).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_backup_taken_mid_stream_restores_sessions_kv_timers_keys_and_answers_each_message_once() {
    let (source, api) = config();
    let host = run(&source);
    create_session(&source, &api, "made");
    let device = link_whatsapp_keys(&source);
    sim_queue(&source, "p", &["kv-set color teal".into(), "timer 15000 tea".into()]);
    eventually("kv set and timer scheduled", || {
        (sim_sent(&source, "p") == ["ok", "scheduled"]).then_some(())
    });

    // The stream: chunks of `!echo m-<n>` until the backups are taken.
    let queued = AtomicUsize::new(0);
    let streaming = AtomicBool::new(true);
    let (backup, held, queued_before) = std::thread::scope(|scope| {
        scope.spawn(|| {
            while streaming.load(Ordering::SeqCst) {
                let from = queued.load(Ordering::SeqCst);
                let texts: Vec<String> = (from..from + CHUNK).map(|n| format!("!echo m-{n}")).collect();
                sim_queue(&source, "s", &texts);
                queued.store(from + CHUNK, Ordering::SeqCst);
            }
        });
        eventually("the stream is answered", || {
            (sim_sent(&source, "s").len() >= CHUNK).then_some(())
        });
        // Back up until a backup catches messages not answered yet (the
        // first one nearly always does); each is a new file.
        let mut taken = (PathBuf::new(), BTreeSet::new(), 0);
        for attempt in 1..=5 {
            let queued_before = queued.load(Ordering::SeqCst);
            let backup = source.dir.path().join(format!("purr-{attempt}.backup"));
            let said = succeeds(&source, &["backup", backup.to_str().unwrap()]);
            assert!(said.contains("backed up to"), "{said}");
            let (held, answered) = stream_in(&backup);
            eprintln!("backup {attempt}: holds {} messages, {answered} answered", held.len());
            let caught_work = held.len() > answered;
            taken = (backup, held, queued_before);
            if caught_work {
                break;
            }
        }
        streaming.store(false, Ordering::SeqCst);
        taken
    });
    stop(host);

    let mode = std::fs::metadata(&backup).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600,
        "a backup holds keys"
    );
    assert_eq!(
        held,
        (0..held.len()).collect(),
        "the backup holds the stream up to a point"
    );
    assert!(
        held.len() >= queued_before,
        "messages queued before the backup are in it"
    );

    let (restored, _) = config();
    let said = succeeds(&restored, &["restore", backup.to_str().unwrap()]);
    assert!(said.contains("restored to"), "{said}");
    let restored_db = data_dir(&restored).join("purr.db");
    assert!(same_whatsapp_rows(&data_dir(&source).join("purr.db"), &restored_db) >= 3);
    assert_eq!(whatsapp_device(&restored), Some(device), "the WhatsApp device keys");
    let timers: i64 = block_on(async {
        sqlx::query_scalar("SELECT count(*) FROM timers WHERE session = 'p'")
            .fetch_one(&mut read(&restored_db).await)
            .await
            .unwrap()
    });
    assert_eq!(timers, 1, "the pending timer is in the backup");

    let host = run(&restored);
    assert!(
        session_names(&restored).contains(&"made".to_string()),
        "the session made through the API"
    );
    let expected: Vec<String> = (0..held.len()).map(|n| format!("m-{n}")).collect();
    eventually("every message the backup held is answered", || {
        (sim_sent(&restored, "s").len() >= expected.len()).then_some(())
    });
    eventually("the timer fires", || {
        sim_sent(&restored, "p")
            .contains(&"timer: tea".to_string())
            .then_some(())
    });
    sim_queue(&restored, "p", &["kv-get color".into()]);
    eventually("the kv value is read", || {
        sim_sent(&restored, "p").ends_with(&["teal".to_string()]).then_some(())
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        sim_sent(&restored, "s"),
        expected,
        "each held message answered once, in order"
    );
    let fired = sim_sent(&restored, "p").iter().filter(|t| *t == "timer: tea").count();
    assert_eq!(fired, 1, "the timer fired once");
    stop(host);
}

#[test]
fn restore_refuses_a_database_in_place_and_files_that_are_not_purr_backups() {
    let (source, _) = config();
    sim_queue(&source, "s", &["!echo hi".into()]); // makes the database
    let backup = source.dir.path().join("purr.backup");
    succeeds(&source, &["backup", backup.to_str().unwrap()]);
    let error = fails(&source, &["backup", backup.to_str().unwrap()]);
    assert!(
        error.contains(&format!(
            "{} already exists: refusing to overwrite it",
            backup.display()
        )),
        "{error}"
    );

    let db = data_dir(&source).join("purr.db");
    let error = fails(&source, &["restore", backup.to_str().unwrap()]);
    assert!(
        error.contains(&format!(
            "{} already exists: restore only where there is no database",
            db.display()
        )),
        "{error}"
    );

    let (target, _) = config();
    let restored_db = data_dir(&target).join("purr.db");
    let not_sqlite = target.dir.path().join("notes.txt");
    std::fs::write(&not_sqlite, "these are not the keys you are looking for\n".repeat(100)).unwrap();
    let empty = target.dir.path().join("empty.backup");
    std::fs::write(&empty, "").unwrap();
    let foreign = target.dir.path().join("other.db");
    block_on(async {
        let options = SqliteConnectOptions::new().filename(&foreign).create_if_missing(true);
        let mut connection = SqliteConnection::connect_with(&options).await.unwrap();
        sqlx::query("CREATE TABLE invoices (id INTEGER)")
            .execute(&mut connection)
            .await
            .unwrap();
    });
    for (file, says) in [
        (&not_sqlite, "file is not a database"),
        (&empty, "is empty (0 bytes), not a purr database"),
        (&foreign, "is not a purr database"),
        (&target.dir.path().join("missing.backup"), "reading the backup"),
    ] {
        let error = fails(&target, &["restore", file.to_str().unwrap()]);
        assert!(error.contains(says), "{}: {error}", file.display());
        if file.exists() {
            assert!(
                error.contains(&format!("{} is not a usable purr backup", file.display())),
                "{error}"
            );
        }
        assert!(!restored_db.exists(), "a refused restore leaves no database");
        let left: Vec<_> = std::fs::read_dir(data_dir(&target)).into_iter().flatten().collect();
        assert!(left.is_empty(), "and no temporary file: {left:?}");
    }

    succeeds(&target, &["restore", backup.to_str().unwrap()]);
    let mode =
        |path: &Path| std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(path).unwrap().permissions()) & 0o777;
    assert_eq!((mode(&data_dir(&target)), mode(&restored_db)), (0o700, 0o600));
}

#[test]
fn a_postgres_database_is_backed_up_with_pg_dump() {
    let config = TestConfig::with_host("database = \"postgres://purr:secret@db/purr\"", BODY);
    let error = fails(&config, &["backup", "x.backup"]);
    assert!(error.contains("pg_dump") && !error.contains("secret"), "{error}");
}
