//! The database: one SQLite file (sqlx, WAL) holding every session's data.
//!
//! [`Store`] owns the connection pool, the schema (`migrations/`, embedded
//! at build time) and the [`Writer`] that batches the durable event path.
//! Each table's queries live in their own file: `kv` (plugin data),
//! `timers`, `sessions`, `journal` (journal, outbox, dead letters) and
//! `sim` (the sim network's pairing, inbox and sent log).
//!
//! The database holds account keys, so `data_dir` is created `0700` and the
//! database file `0600`.

mod journal;
mod kv;
mod sessions;
mod sim;
mod timers;
mod writer;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub use journal::{DeadLetter, JournalEntry, OutboxRow, PendingEvent};
pub use sessions::SessionRow;
pub use sim::SimInboxRow;
pub use timers::TimerRow;
pub use writer::{Completion, KvWrite, SimSent, Writer};

/// The database file's name inside `data_dir`.
const DB_FILE: &str = "purr.db";

/// A handle on the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
    writer: Writer,
}

impl Store {
    /// Opens (creating if needed) `data_dir/purr.db` and brings its schema up to date.
    pub async fn open(data_dir: &Path) -> anyhow::Result<Store> {
        create_private_dir(data_dir)?;
        let path = data_dir.join(DB_FILE);
        create_private_file(&path)?;
        let options = SqliteConnectOptions::new().filename(&path).create_if_missing(true);
        Self::connect(options)
            .await
            .with_context(|| format!("opening database {}", path.display()))
    }

    /// Opens a database by URL (`sqlite://path?mode=rwc`).
    pub async fn open_url(url: &str) -> anyhow::Result<Store> {
        if !url.starts_with("sqlite:") {
            anyhow::bail!("database {url:?}: only sqlite is supported for now");
        }
        let options = SqliteConnectOptions::from_str(url).with_context(|| format!("database URL {url:?}"))?;
        Self::connect(options)
            .await
            .with_context(|| format!("opening database {url:?}"))
    }

    async fn connect(options: SqliteConnectOptions) -> anyhow::Result<Store> {
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .context("migrating the schema")?;
        Ok(Store {
            writer: Writer::spawn(pool.clone()),
            pool,
        })
    }

    /// The batching writer of the durable event path.
    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    /// The connection pool, for queries that span tables.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes every connection, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Creates `dir` (and parents) readable by the owner only.
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating data dir {}", dir.display()))
}

/// Creates `path` empty with mode 0600 if it does not exist yet.
fn create_private_file(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if path.exists() {
        return Ok(());
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating database file {}", path.display()))?;
    Ok(())
}

/// Milliseconds since the epoch as SQLite stores them.
fn now_ms() -> i64 {
    crate::util::now_ms() as i64
}

#[cfg(test)]
pub(super) mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// A fresh store in a temp dir (kept alive by the returned guard).
    pub(super) async fn temp_store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("data")).await.unwrap();
        (store, dir)
    }

    /// Commits kv writes `(plugin, key, value or delete)` of `session`
    /// through the writer, as an event's completion does.
    pub(super) async fn write_kv(store: &Store, session: &str, writes: &[(&str, &str, Option<&[u8]>)]) {
        let completion = Completion {
            session: session.to_string(),
            kv: writes
                .iter()
                .map(|(plugin, key, value)| KvWrite {
                    plugin: plugin.to_string(),
                    key: key.to_string(),
                    value: value.map(<[u8]>::to_vec),
                })
                .collect(),
            ..Completion::default()
        };
        store.writer().complete(completion).await.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn data_dir_and_database_are_private() {
        let (_store, dir) = temp_store().await;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("data")), 0o700);
        assert_eq!(mode(&dir.path().join("data").join(DB_FILE)), 0o600);
    }

    #[tokio::test]
    async fn data_survives_reopening() {
        let (store, dir) = temp_store().await;
        write_kv(&store, "s", &[("p", "k", Some(b"v"))]).await;
        store.close().await;
        let store = Store::open(&dir.path().join("data")).await.unwrap();
        assert_eq!(store.kv_get("p", "s", "k").await.unwrap().as_deref(), Some(&b"v"[..]));
    }

    #[tokio::test]
    async fn only_sqlite_urls_are_accepted() {
        let error = Store::open_url("postgres://localhost/purr").await.unwrap_err();
        assert!(error.to_string().contains("only sqlite"), "{error}");
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("x.db").display());
        let store = Store::open_url(&url).await.unwrap();
        store.sim_pair("s", "s@sim").await.unwrap();
    }
}
