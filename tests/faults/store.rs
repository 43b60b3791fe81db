//! A database that stops taking writes (disk full, read-only, damaged):
//! messages got 500 while `/healthz` said ok and sessions showed connected
//! with no error. Now the failure shows everywhere an operator looks.

use purr::session::State;
use sqlx::Connection as _;

use crate::api::{TOKEN, api};
use crate::common::{ECHO_ALONE, TestConfig};

/// Makes every journal write fail, as a full disk would, from outside the host.
async fn break_journal_writes(config: &TestConfig) {
    let db = config.dir.path().join("data/purr.db");
    let mut connection = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query(
        "CREATE TRIGGER disk_full BEFORE INSERT ON journal
         BEGIN SELECT RAISE(ABORT, 'database or disk is full (test)'); END",
    )
    .execute(&mut connection)
    .await
    .unwrap();
    connection.close().await.unwrap();
}

#[tokio::test]
async fn a_failed_database_write_shows_in_status_health_readiness_and_metrics() {
    let config = TestConfig::new(ECHO_ALONE);
    let (host, server) = api(&config).await;
    let client = reqwest::Client::new();
    let get = |path: &str| {
        client
            .get(format!("http://{}{path}", server.addr()))
            .bearer_auth(TOKEN)
            .send()
    };
    assert_eq!(get("/readyz").await.unwrap().status(), 200);
    assert_eq!(get("/healthz").await.unwrap().status(), 200);

    break_journal_writes(&config).await;
    let refused = host.supervisor.sim().inject_text("s", "user", "!ping").await;
    assert!(refused.is_err(), "the message is refused, not lost silently");
    host.wait_state("s", State::Failed).await;
    let status = host.supervisor.status("s").unwrap();
    let reason = status.last_error.expect("the session says why");
    assert!(
        reason.contains("database write failed") && reason.contains("disk is full"),
        "{reason}"
    );
    assert!(reason.contains("restart"), "{reason}");

    let health = get("/healthz").await.unwrap();
    assert_eq!(health.status(), 503);
    assert!(
        health
            .text()
            .await
            .unwrap()
            .starts_with("restart needed: database write failed")
    );
    let ready = get("/readyz").await.unwrap();
    assert_eq!(ready.status(), 503);
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(ready["ready"], false);
    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    assert!(
        metrics.lines().any(|l| l == "purr_store_write_failures_total 1"),
        "{metrics}"
    );

    server.shutdown(crate::common::PATIENCE).await;
    host.stop().await;
}

/// Right after a start `/healthz` answered while sessions were still
/// connecting, and a client could not tell when to send. `/readyz` says.
#[tokio::test]
async fn readiness_waits_for_autostart_sessions() {
    let config = TestConfig::new(ECHO_ALONE);
    let host = config.host().await;
    let server = purr::control::bind(
        host.supervisor.clone(),
        "127.0.0.1:0",
        purr::control::ApiToken::new(TOKEN),
    )
    .await
    .unwrap();
    let url = format!("http://{}/readyz", server.addr());
    let before = reqwest::get(&url).await.unwrap();
    assert_eq!(before.status(), 503, "nothing started yet");
    let before: serde_json::Value = before.json().await.unwrap();
    assert_eq!(before["waiting_for"], serde_json::json!(["session s is stopped"]));

    host.supervisor.start_autostart().await;
    host.wait_state("s", State::Connected).await;
    let after = reqwest::get(&url).await.unwrap();
    assert_eq!(after.status(), 200);
    assert_eq!(
        after.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({ "ready": true, "waiting_for": [] })
    );
    server.shutdown(crate::common::PATIENCE).await;
    host.stop().await;
}

/// A host on `config`, which must refuse to start; why.
pub async fn refused_start(config: &TestConfig) -> String {
    match purr::supervisor::Supervisor::new(config.load()).await {
        Ok(_) => panic!("the host started anyway"),
        Err(error) => format!("{error:#}"),
    }
}

/// A `purr.db` emptied by a failed copy or restore was taken as a new
/// database: every account would have needed a new QR. Now start refuses.
#[tokio::test]
async fn an_empty_database_file_refuses_start() {
    let config = TestConfig::new(ECHO_ALONE);
    let data = config.dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    std::fs::write(data.join("purr.db"), b"").unwrap();
    let error = refused_start(&config).await;
    assert!(error.contains("is empty (0 bytes)"), "{error}");
    assert!(error.contains("restore"), "{error}");
    assert_eq!(
        std::fs::metadata(data.join("purr.db")).unwrap().len(),
        0,
        "left untouched"
    );
}

/// Another program's SQLite database named as purr's would have had purr's
/// schema added to it. Now start refuses and leaves it as it was.
#[tokio::test]
async fn another_programs_database_refuses_start() {
    let config = TestConfig::new(ECHO_ALONE);
    let data = config.dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let url = format!("sqlite://{}?mode=rwc", data.join("purr.db").display());
    let mut connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
        .execute(&mut connection)
        .await
        .unwrap();
    connection.close().await.unwrap();

    let error = refused_start(&config).await;
    assert!(
        error.contains("not a purr database") && error.contains("invoices"),
        "{error}"
    );
    let mut connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let tables: Vec<(String,)> = sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table'")
        .fetch_all(&mut connection)
        .await
        .unwrap();
    assert_eq!(tables, vec![("invoices".to_string(),)], "nothing added");
}
