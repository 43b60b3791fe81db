//! The writer's transaction on SQLite, on a connection of the writer's own.
//!
//! The writer opens its own connection to the database file (rusqlite over
//! the same SQLite library sqlx links) and runs each batch's statements on
//! its own thread. Through sqlx every statement was a round trip to the
//! pool connection's worker thread — two thread wake-ups, plus one per row
//! streamed back — and those hand-offs, not SQLite, were most of a small
//! commit's time (BENCHMARKS.md, "The ways in"). Here a statement is a
//! function call: each row is one execution of a cached prepared
//! statement, and `changes()` says at once whether an `INSERT OR IGNORE`
//! wrote (so a duplicate journal entry or sim send needs no second query).
//!
//! The pool stays for everything else (reads, timers, the inbox); SQLite's
//! busy timeout orders the writer's transactions with the pool's few
//! writes, as it did when the writer borrowed a pool connection. The
//! writer's connection never checkpoints the WAL in a commit: the
//! checkpointer beside it does (`checkpoint.rs`).

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use anyhow::Context as _;
use rusqlite::{Connection, OpenFlags, Params, TransactionBehavior};
use sqlx::SqlitePool;

use super::batch::Batch;
use super::checkpoint::Checkpoints;
use super::{Queued, Written};
use crate::store::BUSY_TIMEOUT;

/// Statements the writer keeps prepared (it uses a dozen).
const CACHED_STATEMENTS: usize = 32;

/// The SQLite side of the writer: the pool it shares the database with
/// (closing it closes the writer's connection too), its own connection
/// and the checkpointer beside it.
pub(super) struct SqliteBatches {
    pool: SqlitePool,
    connection: Option<(Connection, Checkpoints)>,
}

impl SqliteBatches {
    /// Opens the writer's connection, which never checkpoints (see
    /// `checkpoint.rs`), and starts the checkpointer. At once, with the
    /// pool: a file moved or deleted later is still the one written.
    pub fn open(pool: SqlitePool) -> anyhow::Result<Self> {
        let path = pool.connect_options().get_filename().to_owned();
        let connection = connect(&path).with_context(|| format!("opening {}", path.display()))?;
        connection.set_prepared_statement_cache_capacity(CACHED_STATEMENTS);
        // Checkpoints are the checkpointer's; a log that grew long under
        // load is cut back to 64 MiB when it starts over.
        connection.execute_batch("PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864;")?;
        let checkpoints = Checkpoints::start(connect(&path)?);
        Ok(SqliteBatches {
            pool,
            connection: Some((connection, checkpoints)),
        })
    }
}

/// A connection to the pool's file with the pool's settings.
fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    // WAL mode is the file's (the pool set it); these two are per connection.
    connection.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
    Ok(connection)
}

impl super::Backend for SqliteBatches {
    /// Writes the batch in one transaction (rolled back if a statement
    /// fails). Nothing is fenced: SQLite has one host. Once the pool is
    /// closed (the store closed), the writer's connection closes too and
    /// every batch fails.
    async fn write(&mut self, jobs: &[Queued]) -> anyhow::Result<Written> {
        if self.pool.is_closed() {
            self.connection = None;
        }
        let Some((connection, checkpoints)) = &mut self.connection else {
            anyhow::bail!("the database was closed");
        };
        let batch = Batch::of(jobs.iter().map(|(job, _)| job));
        // Dropped without a commit, the transaction is rolled back.
        let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let written = write_batch(&tx, &batch)?;
        tx.commit()?;
        checkpoints.committed(connection);
        Ok(written)
    }
}

fn write_batch(tx: &Connection, batch: &Batch<'_>) -> rusqlite::Result<Written> {
    let appended = each_row(
        tx,
        "INSERT OR IGNORE INTO journal (session, seq, dedupe_key, event, received_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
        &batch.appends,
        |e| (&e.session, e.seq, &e.dedupe_key, &e.event, e.received_at_ms),
    )?;
    // A duplicate `(session, seq)` or `dedupe_key` was skipped: not written.
    let journaled = written(&batch.appends, appended, |e| (e.session.clone(), e.seq));
    move_marks(tx, "journal_done", &batch.done)?;
    each_row(tx, "DELETE FROM timers WHERE id = ?1", &batch.timers, |id| [id])?;
    let now = crate::util::now_ms() as i64;
    each_row(
        tx,
        "INSERT OR IGNORE INTO outbox (session, seq, key, action, created_at_ms, journal_seq) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        &batch.outbox,
        |o| (&o.session, o.seq, &o.key, &o.action, now, o.journal_seq),
    )?;
    each_row(
        tx,
        "INSERT OR REPLACE INTO dead_letters (session, seq, event, plugin, error, failed_at_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        &batch.dead,
        |d| (&d.session, d.seq, &d.event, &d.plugin, &d.error, d.failed_at_ms),
    )?;
    move_marks(tx, "outbox_sent", &batch.delivered)?;
    each_row(tx, "DELETE FROM sim_inbox WHERE seq = ?1", &batch.acks, |seq| [seq])?;
    each_row(
        tx,
        "INSERT INTO plugin_kv (session, plugin, key, value) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (plugin, session, key) DO UPDATE SET value = excluded.value",
        batch.kv_sets(),
        |((session, plugin, key), value)| (session, plugin, key, value),
    )?;
    each_row(
        tx,
        "DELETE FROM plugin_kv WHERE session = ?1 AND plugin = ?2 AND key = ?3",
        batch.kv_deletes(),
        |(session, plugin, key)| (session, plugin, key),
    )?;
    let recorded = each_row(
        tx,
        "INSERT OR IGNORE INTO sim_sent (session, id, action) VALUES (?1, ?2, ?3)",
        &batch.sim_sent,
        |s| (&s.session, &s.id, &s.action),
    )?;
    let sim_sent = written(&batch.sim_sent, recorded, |s| (s.session.clone(), s.id.clone()));
    Ok(Written {
        journaled,
        sim_sent,
        ..Written::default()
    })
}

/// Moves each session's mark in `table` (`journal_done`, `outbox_sent`)
/// up to the number given (never back).
fn move_marks(tx: &Connection, table: &str, marks: &BTreeMap<&str, i64>) -> rusqlite::Result<()> {
    let sql = format!(
        "INSERT INTO {table} (session, through_seq) VALUES (?1, ?2) \
         ON CONFLICT (session) DO UPDATE SET through_seq = max(through_seq, excluded.through_seq)"
    );
    each_row(tx, &sql, marks, |(session, through)| (session, through))?;
    Ok(())
}

/// Runs `sql` (prepared once, then cached) for each row with the
/// parameters `params` gives it; answers, for each, whether it changed a
/// row (an `INSERT OR IGNORE` of a duplicate does not).
fn each_row<T, P: Params>(
    tx: &Connection,
    sql: &str,
    rows: impl IntoIterator<Item = T>,
    params: impl Fn(T) -> P,
) -> rusqlite::Result<Vec<bool>> {
    let mut rows = rows.into_iter().peekable();
    if rows.peek().is_none() {
        return Ok(Vec::new());
    }
    let mut statement = tx.prepare_cached(sql)?;
    rows.map(|row| Ok(statement.execute(params(row))? > 0)).collect()
}

/// The keys of the `rows` that [`each_row`] says were written.
fn written<T, K: Eq + std::hash::Hash>(rows: &[T], wrote: Vec<bool>, key: impl Fn(&T) -> K) -> HashSet<K> {
    rows.iter()
        .zip(wrote)
        .filter(|(_, wrote)| *wrote)
        .map(|(row, _)| key(row))
        .collect()
}
