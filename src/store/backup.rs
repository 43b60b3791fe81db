//! Backups of the SQLite database: [`write()`] copies a consistent, compact
//! snapshot of it (`VACUUM INTO`, one read transaction: a running host
//! keeps writing meanwhile) and [`restore`] puts such a copy in place of a
//! database that does not exist yet, after checking it is a sound purr
//! database.
//!
//! A backup holds every account's keys: it is written `0600` under a
//! temporary name and linked into place at the end, so it never overwrites
//! a file and a reader never sees half of one. A restored database is
//! copied into the (private) data dir the same way and checked there —
//! SQLite's `integrity_check`, purr's schema history, and a schema no newer
//! than this purr's — before it takes the database's name. The compile
//! cache and the API token are not part of the database (see
//! `docs/backup.md`).

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use super::{DB_FILE, Db, MIGRATOR, dir_of, private, refuse_emptied_database, refuse_foreign_database, with_suffix};

/// The SQLite file of a config's database: `data_dir/purr.db`, or the file
/// of a `sqlite:` URL. Another database (Postgres) is backed up with its
/// own tools, which the error says.
pub fn database_file(data_dir: &Path, database: Option<&str>) -> anyhow::Result<PathBuf> {
    let Some(url) = database else {
        return Ok(data_dir.join(DB_FILE));
    };
    if !url.starts_with("sqlite:") {
        // Only the scheme: the rest of a URL may hold a password.
        let scheme = url.split(':').next().unwrap_or_default();
        anyhow::bail!(
            "the database is not SQLite (`database = \"{scheme}:…\"`): back it up with its own tools \
             (Postgres: pg_dump / pg_restore, see docs/backup.md)"
        );
    }
    if super::in_memory(url) {
        anyhow::bail!("database {url:?} lives in memory: there is nothing to back up or restore");
    }
    let options = SqliteConnectOptions::from_str(url).with_context(|| format!("database URL {url:?}"))?;
    Ok(options.get_filename().to_path_buf())
}

/// Writes a snapshot of the database `database` to `to` (mode 0600),
/// which must not exist; returns its size in bytes. Works while a host
/// uses the database.
pub async fn write(database: &Path, to: &Path) -> anyhow::Result<u64> {
    let db = database.display();
    if !database.is_file() {
        anyhow::bail!("there is no database at {db}: nothing to back up (is this the host's config?)");
    }
    refuse_emptied_database(database)?;
    refuse_existing(to, "refusing to overwrite it: name a new file")?;
    let pool = connect(database)
        .await
        .with_context(|| format!("opening database {db}"))?;
    let written = async {
        refuse_foreign_database(&Db::Sqlite(pool.clone())).await?;
        in_place(to, async |partial: &Path| {
            sqlx::query("VACUUM INTO ?")
                .bind(partial.to_str().context("the backup's path is not UTF-8")?)
                .execute(&pool)
                .await
                .with_context(|| format!("copying database {db}"))?;
            Ok(())
        })
        .await
    }
    .await;
    pool.close().await;
    written?;
    let size = std::fs::metadata(to).map(|m| m.len()).unwrap_or(0);
    tracing::info!(database = %db, backup = %to.display(), bytes = size, "backup written");
    Ok(size)
}

/// Restores the backup `from` as the database file `database`, which must
/// not exist yet; its directory is created `0700` if missing.
pub async fn restore(from: &Path, database: &Path) -> anyhow::Result<()> {
    let advice = "restore only where there is no database: move it away first (it may hold accounts \
                  the backup does not), or restore into a config with a new data_dir";
    refuse_existing(database, advice)?;
    refuse_existing(&with_suffix(database, "-wal"), advice)?;
    let mut source = std::fs::File::open(from).with_context(|| format!("reading the backup {}", from.display()))?;
    private::private_dir(dir_of(database), "database dir")?;
    in_place(database, async |partial: &Path| {
        let mut copy = std::fs::OpenOptions::new().write(true).open(partial)?;
        std::io::copy(&mut source, &mut copy)?;
        copy.sync_all()?;
        check(partial)
            .await
            .with_context(|| format!("{} is not a usable purr backup", from.display()))
    })
    .await?;
    tracing::info!(backup = %from.display(), database = %database.display(), "backup restored");
    Ok(())
}

/// Fails with `advice` when `path` exists.
fn refuse_existing(path: &Path, advice: &str) -> anyhow::Result<()> {
    if std::fs::symlink_metadata(path).is_ok() {
        anyhow::bail!("{} already exists: {advice}", path.display());
    }
    Ok(())
}

/// Runs `fill` on a new, empty `0600` file beside `path`, then syncs it and
/// links it to `path` unless something is there by then. The temporary
/// name (and any `-wal`/`-shm` SQLite left beside it) goes either way.
async fn in_place(path: &Path, fill: impl AsyncFnOnce(&Path) -> anyhow::Result<()>) -> anyhow::Result<()> {
    let name = path.file_name().context("no file name")?.to_string_lossy();
    let dir = dir_of(path);
    let partial = dir.join(format!(".{name}.partial-{:016x}", rand::random::<u64>()));
    let result = async {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&partial)
            .with_context(|| format!("creating {}", partial.display()))?;
        fill(&partial).await?;
        let mut file = std::fs::OpenOptions::new().append(true).open(&partial)?;
        file.flush()?;
        file.sync_all()?;
        std::fs::hard_link(&partial, path).map_err(|error| match error.kind() {
            std::io::ErrorKind::AlreadyExists => {
                anyhow::anyhow!("{} appeared meanwhile: left as it is", path.display())
            }
            _ => anyhow::Error::new(error).context(format!("writing {}", path.display())),
        })?;
        // The new name is durable once the directory is.
        std::fs::File::open(dir)?.sync_all()?;
        Ok(())
    }
    .await;
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(with_suffix(&partial, suffix));
    }
    result
}

/// Checks that the database file `path` is a sound purr database this purr
/// can run: not empty, SQLite's `integrity_check` passes, it has purr's
/// schema history and no migration newer than this purr's.
async fn check(path: &Path) -> anyhow::Result<()> {
    refuse_emptied_database(path)?;
    let pool = connect(path).await?;
    let checked = async {
        let problems: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&pool)
            .await
            .context("reading it as SQLite")?;
        if problems != ["ok"] {
            anyhow::bail!("SQLite's integrity check fails: {}", problems.join("; "));
        }
        refuse_foreign_database(&Db::Sqlite(pool.clone())).await?;
        let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&pool)
            .await
            .map_err(|_| anyhow::anyhow!("it has no purr schema (an empty database)"))?;
        if let Some(newer) = versions.iter().find(|v| !MIGRATOR.iter().any(|m| m.version == **v)) {
            anyhow::bail!("it was made by a newer purr (schema version {newer}): restore it with that version");
        }
        Ok(())
    }
    .await;
    pool.close().await;
    checked
}

/// A small pool on an existing database file, waiting out a writer's locks.
async fn connect(path: &Path) -> anyhow::Result<SqlitePool> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(30));
    Ok(SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::tests::{temp_sqlite_store, write_kv};

    #[tokio::test]
    async fn a_backup_restores_into_a_new_data_dir_and_refuses_to_overwrite() {
        let (store, dir) = temp_sqlite_store().await;
        write_kv(&store, "s", &[("p", "k", Some(b"v"))]).await;
        let file = dir.path().join("purr.backup");
        let size = write(&dir.path().join("data").join(DB_FILE), &file).await.unwrap();
        assert!(size > 0);
        assert_eq!(private::mode(&file).unwrap(), Some(0o600));
        let again = write(&dir.path().join("data").join(DB_FILE), &file).await.unwrap_err();
        assert!(format!("{again:#}").contains("already exists"), "{again:#}");

        let restored_dir = dir.path().join("restored");
        restore(&file, &restored_dir.join(DB_FILE)).await.unwrap();
        assert_eq!(private::mode(&restored_dir).unwrap(), Some(0o700));
        assert_eq!(private::mode(&restored_dir.join(DB_FILE)).unwrap(), Some(0o600));
        let leftovers: Vec<_> = std::fs::read_dir(&restored_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, [DB_FILE], "no temporary files left");
        let restored = Store::open(&restored_dir).await.unwrap();
        assert_eq!(
            restored.kv_get("p", "s", "k").await.unwrap().as_deref(),
            Some(&b"v"[..])
        );
        store.close().await;
    }

    #[test]
    fn the_database_file_of_a_config() {
        let data = Path::new("/d");
        assert_eq!(database_file(data, None).unwrap(), Path::new("/d/purr.db"));
        assert_eq!(
            database_file(data, Some("sqlite:///x/y.db?mode=rwc")).unwrap(),
            Path::new("/x/y.db")
        );
        let error = database_file(data, Some("postgres://u:secret@h/db"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("pg_dump") && !error.contains("secret"), "{error}");
        assert!(database_file(data, Some("sqlite::memory:")).is_err());
        assert!(database_file(data, Some("sqlite://x.db?mode=memory")).is_err());
    }
}
