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

use std::collections::HashSet;
use std::path::Path;

use anyhow::Context as _;
use rusqlite::{Connection, OpenFlags, TransactionBehavior, params};
use sqlx::SqlitePool;

use super::batch::Batch;
use super::checkpoint::Checkpoints;
use super::{Queued, Written};
use crate::store::{BUSY_TIMEOUT, journal::JournalEntry};

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
        let checkpoints = Checkpoints::start(path, connect);
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
            anyhow::bail!("the database was closed");
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

    fn close(&mut self) {
        self.connection = None;
    }
}

fn write_batch(tx: &Connection, batch: &Batch<'_>) -> rusqlite::Result<Written> {
    let journaled = append(tx, &batch.appends)?;
    complete(tx, batch)?;
    if !batch.delivered.is_empty() {
        let mut mark = tx.prepare_cached(
            "INSERT INTO outbox_sent (session, through_seq) VALUES (?1, ?2) \
             ON CONFLICT (session) DO UPDATE SET through_seq = max(through_seq, excluded.through_seq)",
        )?;
        for (session, through) in &batch.delivered {
            mark.execute(params![session, through])?;
        }
    }
    if !batch.acks.is_empty() {
        let mut ack = tx.prepare_cached("DELETE FROM sim_inbox WHERE seq = ?1")?;
        for seq in &batch.acks {
            ack.execute([seq])?;
        }
    }
    write_kv(tx, batch)?;
    let mut sim_sent = HashSet::new();
    if !batch.sim_sent.is_empty() {
        let mut record =
            tx.prepare_cached("INSERT OR IGNORE INTO sim_sent (session, id, action) VALUES (?1, ?2, ?3)")?;
        for sent in &batch.sim_sent {
            if record.execute(params![sent.session, sent.id, sent.action])? == 1 {
                sim_sent.insert((sent.session.clone(), sent.id.clone()));
            }
        }
    }
    Ok(Written {
        journaled,
        sim_sent,
        ..Written::default()
    })
}

/// Appends the entries; returns the (session, seq) of those written (a
/// duplicate `(session, seq)` or `dedupe_key` is skipped).
fn append(tx: &Connection, entries: &[&JournalEntry]) -> rusqlite::Result<HashSet<(String, i64)>> {
    let mut journaled = HashSet::with_capacity(entries.len());
    if entries.is_empty() {
        return Ok(journaled);
    }
    let mut insert = tx.prepare_cached(
        "INSERT OR IGNORE INTO journal (session, seq, dedupe_key, event, received_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for entry in entries {
        let written = insert.execute(params![
            entry.session,
            entry.seq,
            entry.dedupe_key,
            entry.event,
            entry.received_at_ms
        ])?;
        if written == 1 {
            journaled.insert((entry.session.clone(), entry.seq));
        }
    }
    Ok(journaled)
}

/// Done marks, fired timers, outbox rows and dead letters of the completions.
fn complete(tx: &Connection, batch: &Batch<'_>) -> rusqlite::Result<()> {
    if !batch.done.is_empty() {
        let mut mark = tx.prepare_cached(
            "INSERT INTO journal_done (session, through_seq) VALUES (?1, ?2) \
             ON CONFLICT (session) DO UPDATE SET through_seq = max(through_seq, excluded.through_seq)",
        )?;
        for (session, through) in &batch.done {
            mark.execute(params![session, through])?;
        }
    }
    if !batch.timers.is_empty() {
        let mut delete = tx.prepare_cached("DELETE FROM timers WHERE id = ?1")?;
        for id in &batch.timers {
            delete.execute([id])?;
        }
    }
    if !batch.outbox.is_empty() {
        let now = crate::util::now_ms() as i64;
        let mut insert = tx.prepare_cached(
            "INSERT OR IGNORE INTO outbox (session, seq, key, action, created_at_ms, journal_seq) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for send in &batch.outbox {
            insert.execute(params![
                send.session,
                send.seq,
                send.key,
                send.action,
                now,
                send.journal_seq
            ])?;
        }
    }
    if !batch.dead.is_empty() {
        let mut insert = tx.prepare_cached(
            "INSERT OR REPLACE INTO dead_letters (session, seq, event, plugin, error, failed_at_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for dead in &batch.dead {
            insert.execute(params![
                dead.session,
                dead.seq,
                dead.event,
                dead.plugin,
                dead.error,
                dead.failed_at_ms
            ])?;
        }
    }
    Ok(())
}

fn write_kv(tx: &Connection, batch: &Batch<'_>) -> rusqlite::Result<()> {
    if batch.kv.is_empty() {
        return Ok(());
    }
    let mut set = tx.prepare_cached(
        "INSERT INTO plugin_kv (session, plugin, key, value) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (plugin, session, key) DO UPDATE SET value = excluded.value",
    )?;
    for ((session, plugin, key), value) in batch.kv_sets() {
        set.execute(params![session, plugin, key, value])?;
    }
    let mut delete = tx.prepare_cached("DELETE FROM plugin_kv WHERE session = ?1 AND plugin = ?2 AND key = ?3")?;
    for (session, plugin, key) in batch.kv_deletes() {
        delete.execute(params![session, plugin, key])?;
    }
    Ok(())
}
