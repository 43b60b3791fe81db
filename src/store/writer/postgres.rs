//! The writer's transaction on PostgreSQL: the SQL one batch becomes.
//!
//! Every kind of row goes in as one statement whatever the number of rows:
//! each column is bound as one array and read back with `UNNEST`, so a
//! batch is a fixed handful of round trips (prepared once per connection)
//! and never hits PostgreSQL's limit of bound parameters. Upserts get each
//! key once ([`Batch`] merges repeated keys), as PostgreSQL refuses to
//! update one row twice in a statement.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};

use sqlx::pool::PoolConnection;
use sqlx::{Acquire as _, PgConnection, PgPool, Postgres};

use super::batch::Batch;
use super::{Queued, Written};
use crate::store::fence::lease_rows;

/// The PostgreSQL side of the writer: a pool connection, kept while there is work.
pub(super) struct PgBatches {
    pool: PgPool,
    connection: Option<PoolConnection<Postgres>>,
}

impl PgBatches {
    pub fn new(pool: PgPool) -> Self {
        PgBatches { pool, connection: None }
    }
}

impl super::Backend for PgBatches {
    async fn write(&mut self, jobs: &[Queued]) -> anyhow::Result<Written> {
        let connection = match &mut self.connection {
            Some(connection) => connection,
            None => self.connection.insert(self.pool.acquire().await?),
        };
        Ok(write(connection, jobs).await?)
    }

    fn holds_pooled(&self) -> bool {
        self.connection.is_some()
    }

    fn idle(&mut self) {
        self.connection = None;
    }
}

/// Writes the batch in one transaction, leaving out what the lease rows refuse.
async fn write(connection: &mut PgConnection, jobs: &[Queued]) -> Result<Written, sqlx::Error> {
    // Dropped without a commit, the transaction is rolled back.
    let mut tx = connection.begin().await?;
    let refused = refused(&mut tx, jobs).await?;
    let kept = (jobs.iter().enumerate())
        .filter(|(index, _)| !refused.contains(index))
        .map(|(_, (job, _))| job);
    let mut written = write_batch(&mut tx, &Batch::of(kept)).await?;
    tx.commit().await?;
    written.refused = refused;
    Ok(written)
}

/// The requests the session's lease row no longer admits (taken over since
/// they were queued; see `fence.rs` for the rule). The lease rows stay
/// share-locked to the commit: a take waits for this batch, and the next
/// batch sees it.
async fn refused(tx: &mut PgConnection, jobs: &[Queued]) -> Result<HashSet<usize>, sqlx::Error> {
    let sessions: BTreeSet<&str> = (jobs.iter())
        .filter_map(|(_, stamp)| Some(stamp.as_ref()?.session.as_str()))
        .collect();
    if sessions.is_empty() {
        return Ok(HashSet::new());
    }
    let sessions: Vec<&str> = sessions.into_iter().collect();
    let rows = lease_rows(tx, &sessions).await?;
    Ok((jobs.iter().enumerate())
        .filter(|(_, (_, stamp))| {
            stamp
                .as_ref()
                .is_some_and(|stamp| !stamp.claim.admits(rows.get(&stamp.session).copied()))
        })
        .map(|(index, _)| index)
        .collect())
}

async fn write_batch(tx: &mut PgConnection, batch: &Batch<'_>) -> Result<Written, sqlx::Error> {
    let mut journaled = HashSet::new();
    if !batch.appends.is_empty() {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "INSERT INTO journal (session, seq, dedupe_key, event, received_at_ms) \
             SELECT * FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::text[], $5::int8[]) \
             ON CONFLICT DO NOTHING RETURNING session, seq",
        )
        .bind(column(&batch.appends, |e| e.session.as_str()))
        .bind(column(&batch.appends, |e| e.seq))
        .bind(column(&batch.appends, |e| e.dedupe_key.as_deref().map(text)))
        .bind(column(&batch.appends, |e| text(&e.event)))
        .bind(column(&batch.appends, |e| e.received_at_ms))
        .fetch_all(&mut *tx)
        .await?;
        journaled.extend(rows);
    }
    if !batch.done.is_empty() {
        sqlx::query(
            "INSERT INTO journal_done (session, through_seq) SELECT * FROM UNNEST($1::text[], $2::int8[]) \
             ON CONFLICT (session) DO UPDATE \
             SET through_seq = GREATEST(journal_done.through_seq, excluded.through_seq)",
        )
        .bind(batch.done.keys().copied().collect::<Vec<_>>())
        .bind(batch.done.values().copied().collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
    }
    if !batch.timers.is_empty() {
        sqlx::query("DELETE FROM timers WHERE id = ANY($1)")
            .bind(&batch.timers)
            .execute(&mut *tx)
            .await?;
    }
    if !batch.outbox.is_empty() {
        let now = crate::util::now_ms() as i64;
        sqlx::query(
            "INSERT INTO outbox (session, seq, key, action, journal_seq, created_at_ms) \
             SELECT s, q, k, a, j, $6 \
             FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::text[], $5::int8[]) AS r(s, q, k, a, j) \
             ON CONFLICT DO NOTHING",
        )
        .bind(column(&batch.outbox, |o| o.session.as_str()))
        .bind(column(&batch.outbox, |o| o.seq))
        .bind(column(&batch.outbox, |o| text(&o.key)))
        .bind(column(&batch.outbox, |o| text(&o.action)))
        .bind(column(&batch.outbox, |o| o.journal_seq))
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    if !batch.delivered.is_empty() {
        // Delivered rows stay (the send record): the session's sent mark
        // moves instead. (This was a DELETE of each session's range by
        // `ctid`; the mark is one row per session, whatever the backlog.)
        sqlx::query(
            "INSERT INTO outbox_sent (session, through_seq) SELECT * FROM UNNEST($1::text[], $2::int8[]) \
             ON CONFLICT (session) DO UPDATE \
             SET through_seq = GREATEST(outbox_sent.through_seq, excluded.through_seq)",
        )
        .bind(batch.delivered.keys().copied().collect::<Vec<_>>())
        .bind(batch.delivered.values().copied().collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
    }
    if !batch.acks.is_empty() {
        sqlx::query("DELETE FROM sim_inbox WHERE seq = ANY($1)")
            .bind(&batch.acks)
            .execute(&mut *tx)
            .await?;
    }
    if !batch.dead.is_empty() {
        sqlx::query(
            "INSERT INTO dead_letters (session, seq, event, plugin, error, failed_at_ms) \
             SELECT * FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::int8[]) \
             ON CONFLICT (session, seq) DO UPDATE SET event = excluded.event, plugin = excluded.plugin, \
             error = excluded.error, failed_at_ms = excluded.failed_at_ms",
        )
        .bind(column(&batch.dead, |d| d.session.as_str()))
        .bind(column(&batch.dead, |d| d.seq))
        .bind(column(&batch.dead, |d| text(&d.event)))
        .bind(column(&batch.dead, |d| d.plugin.as_str()))
        .bind(column(&batch.dead, |d| text(&d.error)))
        .bind(column(&batch.dead, |d| d.failed_at_ms))
        .execute(&mut *tx)
        .await?;
    }
    write_kv(tx, batch).await?;
    let mut sim_sent = HashSet::new();
    if !batch.sim_sent.is_empty() {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "INSERT INTO sim_sent (session, id, action) \
             SELECT s, i, a FROM UNNEST($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS r(s, i, a, n) ORDER BY n \
             ON CONFLICT DO NOTHING RETURNING session, id",
        )
        .bind(column(&batch.sim_sent, |s| s.session.as_str()))
        .bind(column(&batch.sim_sent, |s| text(&s.id)))
        .bind(column(&batch.sim_sent, |s| text(&s.action)))
        .fetch_all(&mut *tx)
        .await?;
        sim_sent.extend(rows);
    }
    Ok(Written {
        journaled,
        sim_sent,
        ..Written::default()
    })
}

async fn write_kv(tx: &mut PgConnection, batch: &Batch<'_>) -> Result<(), sqlx::Error> {
    let sets: Vec<_> = batch.kv_sets().collect();
    if !sets.is_empty() {
        sqlx::query(
            "INSERT INTO plugin_kv (session, plugin, key, value) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bytea[]) \
             ON CONFLICT (plugin, session, key) DO UPDATE SET value = excluded.value",
        )
        .bind(column(&sets, |((session, _, _), _)| *session))
        .bind(column(&sets, |((_, plugin, _), _)| *plugin))
        .bind(column(&sets, |((_, _, key), _)| *key))
        .bind(column(&sets, |(_, value)| *value))
        .execute(&mut *tx)
        .await?;
    }
    let deletes: Vec<_> = batch.kv_deletes().collect();
    if !deletes.is_empty() {
        sqlx::query(
            "DELETE FROM plugin_kv AS k USING UNNEST($1::text[], $2::text[], $3::text[]) AS d(session, plugin, key) \
             WHERE k.session = d.session AND k.plugin = d.plugin AND k.key = d.key",
        )
        .bind(column(&deletes, |(session, _, _)| *session))
        .bind(column(&deletes, |(_, plugin, _)| *plugin))
        .bind(column(&deletes, |(_, _, key)| *key))
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// `value` as PostgreSQL text, which cannot hold NUL: each becomes U+FFFD.
/// Message ids and texts come from the network and plugins' errors from
/// plugins; one NUL must not fail the batch (and stop the writer for every
/// session). kv keys with NUL are refused before they get here.
fn text(value: &str) -> Cow<'_, str> {
    match value.contains('\0') {
        true => Cow::Owned(value.replace('\0', "\u{FFFD}")),
        false => Cow::Borrowed(value),
    }
}

/// One column of `rows`, to bind as an array.
fn column<'a, R, T>(rows: &'a [R], field: impl Fn(&'a R) -> T) -> Vec<T> {
    rows.iter().map(field).collect()
}
