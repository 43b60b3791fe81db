//! Keys at rest: the database (which holds the WhatsApp keys), its WAL and
//! its directory were created world-readable when named by URL, and a data
//! dir anyone could write to, or an API token anyone could read, was used
//! as it was. Now every path is private and loose modes refuse start.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::common::{ECHO_ALONE, TestConfig};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn a_database_named_by_url_its_wal_and_its_new_dir_are_private() {
    let root = tempfile::tempdir().unwrap();
    let db = root.path().join("keys/purr.db");
    let config = TestConfig::with_host(
        &format!("database = \"sqlite://{}?mode=rwc\"", db.display()),
        ECHO_ALONE,
    );
    let host = config.started().await;
    assert_eq!(host.say("s", "!ping").await, ["pong"]);
    host.stop().await;
    assert_eq!(mode(&root.path().join("keys")), 0o700);
    assert_eq!(mode(&db), 0o600);
    for file in ["purr.db-wal", "purr.db-shm"] {
        let path = root.path().join("keys").join(file);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{file}");
        }
    }
}

#[tokio::test]
async fn a_data_dir_others_can_write_refuses_start() {
    let config = TestConfig::new(ECHO_ALONE);
    let data = config.dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o777)).unwrap();
    let error = crate::store::refused_start(&config).await;
    assert!(error.contains("0777") && error.contains("chmod 700"), "{error}");
    assert!(!data.join("purr.db").exists(), "nothing written there");
}
