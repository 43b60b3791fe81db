//! The database holding every session's data: one SQLite file (sqlx, WAL)
//! by default, or a PostgreSQL database shared by several hosts.
//!
//! [`Store`] owns the connection pool ([`Db`], one per backend), the schema
//! (`migrations/` for SQLite, `migrations/postgres/` for PostgreSQL, both
//! embedded at build time) and the [`Writer`] that batches the durable
//! event path. A query is written once, with `$N` placeholders that both
//! backends read, and compiled for each backend by `with_db!`.
//! Each table's queries live in their own file: `kv` (plugin data),
//! `timers`, `sessions`, `journal` (journal, outbox, dead letters),
//! `history` (finished events and their sends, for `purr replay`) and
//! `sim` (the sim network's pairing, inbox and sent log); [`backup`] copies
//! the whole database out (`purr backup`) and back in (`purr restore`).
//!
//! The database holds account keys, so its directory is created `0700` and
//! the database file (and so its `-wal`/`-shm`, which SQLite creates with
//! the database's mode) `0600`, whether it is `data_dir/purr.db` or a
//! `sqlite://` URL; see [`private`] for existing files and directories.

/// Runs `$body` once per backend: `$pool` is the backend's pool and, in the
/// second form, `$DB` names its sqlx database type (for `QueryBuilder`).
/// Written once, the query is compiled against each driver, so binding or
/// decoding a type one backend lacks fails to build. Exported (hidden) for
/// the integration tests' own SQL.
#[doc(hidden)]
#[macro_export]
macro_rules! with_db {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite($pool) => $body,
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
    ($db:expr, |$pool:ident, $DB:ident| $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite($pool) => {
                type $DB = sqlx::Sqlite;
                $body
            }
            $crate::store::Db::Postgres($pool) => {
                type $DB = sqlx::Postgres;
                $body
            }
        }
    };
}

pub mod backup;
pub mod fence;
mod history;
mod journal;
mod kv;
mod lease;
pub mod private;
mod sessions;
mod sim;
#[doc(hidden)]
pub mod testing;
mod timers;
mod writer;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::SqlitePool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub use fence::LeaseLost;
pub use history::{HistoryWindow, PastEvent};
pub use journal::{DeadLetter, JournalEntry, OutboxRow, PendingEvent, Pruned, Resume};
pub use lease::{LeaseRow, Leases};
pub use sessions::SessionRow;
pub use sim::SimInboxRow;
pub use timers::TimerRow;
pub use writer::{Completion, KvWrite, SimSent, Writer};

/// purr's schema on SQLite: the migrations this purr was built with.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");
/// The same schema on PostgreSQL (its own folder: the SQL differs).
static PG_MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// The database file's name inside `data_dir`.
const DB_FILE: &str = "purr.db";

/// The connection pool of one backend; cheap to clone.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Db {
    /// Whether this is a PostgreSQL database (shared by several hosts).
    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }

    /// Closes every connection (on SQLite, checkpointing the WAL).
    pub async fn close(&self) {
        with_db!(self, |pool| pool.close().await)
    }
}

/// Whether a `sqlite:` URL names an in-memory database.
fn in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// How long a SQLite connection waits for another's write transaction.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a [`Store::reader_pool`] reader waits for a connection.
const READER_PATIENCE: Duration = Duration::from_secs(600);

/// A handle on the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    db: Db,
    writer: Writer,
    leases: Leases,
}

impl Store {
    /// Opens (creating if needed) `data_dir/purr.db` and brings its schema up to date.
    pub async fn open(data_dir: &Path) -> anyhow::Result<Store> {
        private::private_dir(data_dir, "data dir")?;
        let path = data_dir.join(DB_FILE);
        private_database(&path, true)?;
        let options = SqliteConnectOptions::new().filename(&path).create_if_missing(true);
        Self::connect(options)
            .await
            .with_context(|| format!("opening database {}", path.display()))
    }

    /// Opens the database a host's config names: `database` when set, else
    /// `data_dir/purr.db`.
    pub async fn open_for(host: &crate::config::HostConfig) -> anyhow::Result<Store> {
        match &host.database {
            Some(url) => Self::open_url(url).await,
            None => Self::open(&host.data_dir).await,
        }
    }

    /// Opens a database by URL: `postgres://…` (see [`open_postgres`](Self::open_postgres))
    /// or `sqlite://path?mode=rwc`. A file database gets the modes of
    /// [`open`](Self::open)'s: with `mode=rwc` its directory is created
    /// `0700` if missing and the file `0600`.
    pub async fn open_url(url: &str) -> anyhow::Result<Store> {
        if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            return Self::open_postgres(url).await;
        }
        if !url.starts_with("sqlite:") {
            anyhow::bail!("database {url:?}: the URL must start with sqlite:// or postgres://");
        }
        if in_memory(url) {
            anyhow::bail!(
                "database {url:?}: an in-memory SQLite database is not supported (the journal must outlive the \
                 process); name a file, e.g. sqlite:///var/lib/purr/purr.db?mode=rwc"
            );
        }
        let options = SqliteConnectOptions::from_str(url).with_context(|| format!("database URL {url:?}"))?;
        // The parsed mode (`rwc`, `ro` or `rw`); sqlx has no getter for it.
        let mode = sqlx::ConnectOptions::to_url_lossy(&options)
            .query_pairs()
            .find(|(key, _)| key == "mode")
            .map(|(_, value)| value.into_owned());
        private_database(options.get_filename(), mode.as_deref() == Some("rwc"))
            .with_context(|| format!("database {url:?}"))?;
        Self::connect(options)
            .await
            .with_context(|| format!("opening database {url:?}"))
    }

    async fn connect(options: SqliteConnectOptions) -> anyhow::Result<Store> {
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        Self::start(Db::Sqlite(pool)).await
    }

    /// Opens a PostgreSQL database (it must exist; the schema is created or
    /// brought up to date, under sqlx's migration lock, so hosts starting
    /// together are safe).
    async fn open_postgres(url: &str) -> anyhow::Result<Store> {
        let shown = redacted(url);
        let options = PgConnectOptions::from_str(url).with_context(|| format!("database URL {shown}"))?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect_with(options)
            .await
            .with_context(|| format!("connecting to database {shown}"))?;
        Self::start(Db::Postgres(pool))
            .await
            .with_context(|| format!("opening database {shown}"))
    }

    async fn start(db: Db) -> anyhow::Result<Store> {
        refuse_foreign_database(&db).await?;
        match &db {
            Db::Sqlite(pool) => MIGRATOR.run(pool).await,
            Db::Postgres(pool) => PG_MIGRATOR.run(pool).await,
        }
        .context("migrating the schema")?;
        let leases = Leases::new(db.is_postgres());
        Ok(Store {
            writer: Writer::spawn(db.clone(), leases.clone()).context("starting the database writer")?,
            db,
            leases,
        })
    }

    /// The batching writer of the durable event path.
    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    /// This host's session leases (PostgreSQL; none on SQLite).
    pub fn leases(&self) -> &Leases {
        &self.leases
    }

    /// This database through a pool of its own of at most `connections`
    /// (opened on first use; the writer is shared): for readers whose
    /// stalls must not hold the live sessions' connections — a shadow's
    /// runner on its niced thread may wait long between a query's steps,
    /// and a connection it held in the shared pool would queue the live
    /// reads and the writer behind it. Its readers may wait long for a
    /// connection ([`READER_PATIENCE`]), unlogged: that is their lot.
    /// Drop it when done: closing it would close the writer it shares.
    pub fn reader_pool(&self, connections: u32) -> Store {
        let db = match &self.db {
            Db::Sqlite(pool) => Db::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(connections)
                    .acquire_timeout(READER_PATIENCE)
                    .acquire_slow_threshold(READER_PATIENCE)
                    .connect_lazy_with((*pool.connect_options()).clone()),
            ),
            Db::Postgres(pool) => Db::Postgres(
                PgPoolOptions::new()
                    .max_connections(connections)
                    .acquire_timeout(READER_PATIENCE)
                    .acquire_slow_threshold(READER_PATIENCE)
                    .connect_lazy_with((*pool.connect_options()).clone()),
            ),
        };
        Store {
            db,
            writer: self.writer.clone(),
            leases: self.leases.clone(),
        }
    }

    /// The connection pool, for queries that span tables.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Closes every connection, the writer's too (on SQLite, checkpointing the WAL).
    pub async fn close(&self) {
        // What is queued is written first; the writer's connections close
        // before the pool's, whose last one checkpoints the WAL.
        let _ = self.writer.close().await;
        self.db.close().await;
    }
}

/// `url` with its password (if any) replaced by `***`, for messages.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// Refuses a database file that exists but is empty (0 bytes, and no
/// write-ahead log beside it holding its pages): SQLite would take it as a
/// new database, and every account in it would need linking again. A file
/// emptied by a failed copy or restore must not pass for a fresh start.
fn refuse_emptied_database(path: &Path) -> anyhow::Result<()> {
    let len = |path: &Path| std::fs::metadata(path).map(|m| m.len()).ok();
    if len(path) == Some(0) && len(&with_suffix(path, "-wal")).unwrap_or(0) == 0 {
        anyhow::bail!(
            "database file {} is empty (0 bytes), not a purr database: if it held accounts, restore \
             it from a backup; if this is a new install, delete it and start again",
            path.display()
        );
    }
    Ok(())
}

/// Refuses a database that has tables but not purr's migration history:
/// another program's database, which purr's schema must not be added to.
async fn refuse_foreign_database(db: &Db) -> anyhow::Result<()> {
    let tables: Vec<(String,)> = match db {
        Db::Sqlite(pool) => {
            sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table'")
                .fetch_all(pool)
                .await
        }
        Db::Postgres(pool) => {
            sqlx::query_as("SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()")
                .fetch_all(pool)
                .await
        }
    }
    .context("reading the database's tables")?;
    let ours = tables.iter().any(|(name,)| name == "_sqlx_migrations");
    if !tables.is_empty() && !ours {
        let names: Vec<&str> = tables.iter().take(5).map(|(name,)| name.as_str()).collect();
        anyhow::bail!(
            "the database has tables ({}) but is not a purr database (no purr schema history): \
             point purr at its own database file",
            names.join(", ")
        );
    }
    Ok(())
}

/// Makes the database file at `path` private before SQLite opens it: its
/// directory created `0700` (when `create`) or checked, the file created
/// `0600` (when `create`), and an existing file, `-wal` or `-shm` that
/// others may read tightened to `0600`. SQLite creates the `-wal` and
/// `-shm` with the database file's mode, so they follow.
fn private_database(path: &Path, create: bool) -> anyhow::Result<()> {
    let dir = dir_of(path);
    refuse_emptied_database(path)?;
    if create {
        private::private_dir(dir, "database dir")?;
        private::create_private_file(path)?;
    } else if dir.exists() {
        private::check_dir(dir, "database dir")?;
    }
    for suffix in ["", "-wal", "-shm"] {
        private::tighten_file(&with_suffix(path, suffix))?;
    }
    Ok(())
}

/// The directory a file named by `path` is in (`.` for a bare name).
fn dir_of(path: &Path) -> &Path {
    path.parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// `path` with `suffix` appended to its file name: a database's `-wal`,
/// `-shm` and `-journal` files.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Milliseconds since the epoch as SQLite stores them.
fn now_ms() -> i64 {
    crate::util::now_ms() as i64
}

#[cfg(test)]
pub(super) mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// A fresh store in a temp dir (kept alive by the returned guard), or
    /// in a fresh PostgreSQL database with `PURR_TEST_DB=postgres`.
    pub(crate) async fn temp_store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = if testing::postgres_wanted() {
            Store::open_url(&testing::fresh_pg_database().await.unwrap())
                .await
                .unwrap()
        } else {
            Store::open(&dir.path().join("data")).await.unwrap()
        };
        (store, dir)
    }

    /// A fresh SQLite store in a temp dir, for tests of the database file.
    pub(crate) async fn temp_sqlite_store() -> (Store, tempfile::TempDir) {
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
        let (_store, dir) = temp_sqlite_store().await;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("data")), 0o700);
        assert_eq!(mode(&dir.path().join("data").join(DB_FILE)), 0o600);
    }

    #[tokio::test]
    async fn a_url_database_its_wal_and_a_new_dir_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("new/deeper/x.db");
        let store = Store::open_url(&format!("sqlite://{}?mode=rwc", db.display()))
            .await
            .unwrap();
        write_kv(&store, "s", &[("p", "k", Some(b"v"))]).await;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("new")), 0o700);
        assert_eq!(mode(&dir.path().join("new/deeper")), 0o700);
        for file in ["x.db", "x.db-wal", "x.db-shm"] {
            assert_eq!(mode(&dir.path().join("new/deeper").join(file)), 0o600, "{file}");
        }
        store.close().await;
    }

    #[tokio::test]
    async fn an_old_loose_database_is_tightened_and_a_loose_dir_refused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        Store::open(&data).await.unwrap().close().await;
        let db = data.join(DB_FILE);
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        let store = Store::open_url(&format!("sqlite://{}", db.display())).await.unwrap();
        store.close().await;
        assert_eq!(std::fs::metadata(&db).unwrap().permissions().mode() & 0o777, 0o600);

        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o777)).unwrap();
        let error = format!("{:#}", Store::open(&data).await.unwrap_err());
        assert!(error.contains("0777") && error.contains("chmod 700"), "{error}");
        let error = format!(
            "{:#}",
            Store::open_url(&format!("sqlite://{}", db.display()))
                .await
                .unwrap_err()
        );
        assert!(error.contains("0777") && error.contains("chmod 700"), "{error}");
    }

    #[tokio::test]
    async fn data_survives_reopening() {
        let (store, dir) = temp_sqlite_store().await;
        write_kv(&store, "s", &[("p", "k", Some(b"v"))]).await;
        store.close().await;
        let store = Store::open(&dir.path().join("data")).await.unwrap();
        assert_eq!(store.kv_get("p", "s", "k").await.unwrap().as_deref(), Some(&b"v"[..]));
    }

    /// The writer's own connection and the checkpointer's close with the
    /// store: the last connection checkpoints the WAL into the file and
    /// removes it (one file to copy once purr has stopped), and the writer
    /// answers later requests with a clear refusal.
    #[tokio::test]
    async fn closing_the_store_leaves_one_file_and_refuses_later_writes() {
        let (store, dir) = temp_sqlite_store().await;
        write_kv(&store, "s", &[("p", "k", Some(b"v"))]).await;
        let wal = dir.path().join("data").join(format!("{DB_FILE}-wal"));
        assert!(wal.exists(), "a running store writes through the WAL");
        store.close().await;
        assert!(!wal.exists(), "the WAL was checkpointed and removed at close");
        assert_eq!(store.writer().barrier().await.unwrap_err(), Writer::CLOSED);

        let store = Store::open(&dir.path().join("data")).await.unwrap();
        assert_eq!(store.kv_get("p", "s", "k").await.unwrap().as_deref(), Some(&b"v"[..]));
    }

    #[tokio::test]
    async fn only_sqlite_and_postgres_urls_are_accepted() {
        let error = Store::open_url("mysql://localhost/purr").await.unwrap_err();
        assert!(error.to_string().contains("sqlite:// or postgres://"), "{error}");
        for memory in ["sqlite::memory:", "sqlite://?mode=memory"] {
            let error = Store::open_url(memory).await.unwrap_err();
            assert!(
                error.to_string().contains("in-memory SQLite database is not supported"),
                "{error}"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("x.db").display());
        let store = Store::open_url(&url).await.unwrap();
        store.sim_pair("s", "s@sim").await.unwrap();
    }
}
