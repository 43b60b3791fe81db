//! The writer's transaction on SQLite: the SQL one batch becomes.
//!
//! Each statement is a round trip to sqlx's SQLite thread (two thread
//! wake-ups, the whole cost of a small commit), so the rows of every kind
//! on the hot path — journal entries, done marks, outbox rows, sent
//! marks, fired timers, sim acknowledgements — go in as one statement
//! each, whatever their number (one JSON array bound as a single
//! parameter, read with `json_each`), and those statements run as one
//! script with `BEGIN` (and `COMMIT`, when nothing else is to be written):
//! one round trip. kv writes, dead letters and the sim sent log follow as
//! multi-row statements of their own in the same transaction.

use std::collections::HashSet;

use sqlx::{AssertSqlSafe, QueryBuilder, Row as _, Sqlite, SqliteConnection};

use super::batch::{Batch, statement_chunks};
use super::{Queued, SimSent, Written};
use crate::store::journal::{DeadLetter, JournalEntry};

impl super::Backend for Sqlite {
    /// Writes the batch in one transaction; rolls back what it began if a
    /// statement fails.
    /// Writes the batch in one transaction; rolls back what it began if a
    /// statement fails. Nothing is fenced: SQLite has one host.
    async fn write(connection: &mut SqliteConnection, jobs: &[Queued]) -> Result<Written, sqlx::Error> {
        let result = write_batch(connection, &Batch::of(jobs.iter().map(|(job, _)| job))).await;
        if result.is_err() {
            // Nothing may be open (the failure came first): then this fails too.
            let _ = sqlx::query("ROLLBACK").execute(&mut *connection).await;
        }
        result
    }
}

async fn write_batch(connection: &mut SqliteConnection, batch: &Batch<'_>) -> Result<Written, sqlx::Error> {
    let more = !batch.dead.is_empty() || !batch.kv.is_empty() || !batch.sim_sent.is_empty();

    let mut script = Script::default();
    let journal = journal_rows(&batch.appends);
    if let Some(rows) = &journal {
        script.push(
            "INSERT OR IGNORE INTO journal (session, seq, dedupe_key, event, received_at_ms) \
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each(?)",
            rows.clone(),
        );
        // The one row the script returns: how many entries were new.
        script.sql.push_str("SELECT changes();\n");
    }
    push_completions(&mut script, batch);
    if !batch.delivered.is_empty() {
        script.push(
            "INSERT INTO outbox_sent (session, through_seq) SELECT value ->> 0, value ->> 1 FROM json_each(?) \
             WHERE true ON CONFLICT (session) DO UPDATE SET through_seq = max(through_seq, excluded.through_seq)",
            json(&batch.delivered.iter().collect::<Vec<_>>()),
        );
    }
    if !batch.acks.is_empty() {
        script.push(
            "DELETE FROM sim_inbox WHERE seq IN (SELECT value FROM json_each(?))",
            json(&batch.acks),
        );
    }
    if !more {
        script.sql.push_str("COMMIT;\n");
    }
    let returned = script.run(connection).await?;

    insert_dead_letters(connection, &batch.dead).await?;
    write_kv(connection, batch).await?;
    let sim_sent = insert_sim_sent(connection, &batch.sim_sent).await?;
    if more {
        sqlx::query("COMMIT").execute(&mut *connection).await?;
    }
    let journaled = match journal {
        Some(rows) => {
            let new: i64 = returned.first().map(|row| row.try_get(0)).transpose()?.unwrap_or(0);
            journaled(connection, &batch.appends, rows, new).await?
        }
        None => HashSet::new(),
    };
    Ok(Written {
        journaled,
        sim_sent,
        ..Written::default()
    })
}

/// Statements run as one query, each with one JSON parameter.
struct Script {
    sql: String,
    rows: Vec<String>,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            sql: String::from("BEGIN;\n"),
            rows: Vec::new(),
        }
    }
}

impl Script {
    fn push(&mut self, statement: &str, rows: String) {
        self.sql.push_str(statement);
        self.sql.push_str(";\n");
        self.rows.push(rows);
    }

    /// Runs the script (its SQL, prepared once per shape, stays cached);
    /// returns the rows it returned.
    async fn run(self, connection: &mut SqliteConnection) -> Result<Vec<sqlx::sqlite::SqliteRow>, sqlx::Error> {
        let mut query = sqlx::query(AssertSqlSafe(self.sql));
        for rows in self.rows {
            query = query.bind(rows);
        }
        query.fetch_all(connection).await
    }
}

/// Rows as one JSON array, for a statement that reads them with `json_each`.
fn json(rows: &impl serde::Serialize) -> String {
    serde_json::to_string(rows).expect("rows of strings and integers serialize")
}

fn journal_rows(entries: &[&JournalEntry]) -> Option<String> {
    (!entries.is_empty()).then(|| {
        json(
            &entries
                .iter()
                .map(|e| (&e.session, e.seq, &e.dedupe_key, &e.event, e.received_at_ms))
                .collect::<Vec<_>>(),
        )
    })
}

/// The (session, seq) of the entries written: all of them, unless the
/// insert skipped some (duplicates, which have no row under their seq):
/// only then is the journal looked into.
async fn journaled(
    connection: &mut SqliteConnection,
    entries: &[&JournalEntry],
    rows: String,
    new: i64,
) -> Result<HashSet<(String, i64)>, sqlx::Error> {
    if new == entries.len() as i64 {
        return Ok(entries.iter().map(|e| (e.session.clone(), e.seq)).collect());
    }
    let present: Vec<(String, i64)> = sqlx::query_as(
        "SELECT j.session, j.seq FROM json_each(?) AS d \
         JOIN journal AS j ON j.session = d.value ->> 0 AND j.seq = d.value ->> 1",
    )
    .bind(rows)
    .fetch_all(connection)
    .await?;
    Ok(present.into_iter().collect())
}

/// Done marks, fired timers and outbox rows of the completions.
fn push_completions(script: &mut Script, batch: &Batch<'_>) {
    if !batch.done.is_empty() {
        script.push(
            "INSERT INTO journal_done (session, through_seq) SELECT value ->> 0, value ->> 1 FROM json_each(?) \
             WHERE true ON CONFLICT (session) DO UPDATE SET through_seq = max(through_seq, excluded.through_seq)",
            json(&batch.done.iter().collect::<Vec<_>>()),
        );
    }
    if !batch.timers.is_empty() {
        script.push(
            "DELETE FROM timers WHERE id IN (SELECT value FROM json_each(?))",
            json(&batch.timers),
        );
    }
    let now = crate::util::now_ms() as i64;
    if !batch.outbox.is_empty() {
        let rows: Vec<_> = (batch.outbox.iter())
            .map(|send| (&send.session, send.seq, &send.key, &send.action, now, send.journal_seq))
            .collect();
        script.push(
            "INSERT OR IGNORE INTO outbox (session, seq, key, action, created_at_ms, journal_seq) \
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5 FROM json_each(?)",
            json(&rows),
        );
    }
}

async fn insert_dead_letters(connection: &mut SqliteConnection, dead: &[&DeadLetter]) -> Result<(), sqlx::Error> {
    for chunk in statement_chunks(dead) {
        let mut query = QueryBuilder::<Sqlite>::new(
            "INSERT OR REPLACE INTO dead_letters (session, seq, event, plugin, error, failed_at_ms) ",
        );
        query.push_values(chunk, |mut row, dead| {
            row.push_bind(&dead.session)
                .push_bind(dead.seq)
                .push_bind(&dead.event)
                .push_bind(&dead.plugin)
                .push_bind(&dead.error)
                .push_bind(dead.failed_at_ms);
        });
        query.build().execute(&mut *connection).await?;
    }
    Ok(())
}

async fn write_kv(connection: &mut SqliteConnection, batch: &Batch<'_>) -> Result<(), sqlx::Error> {
    let sets: Vec<_> = batch.kv_sets().collect();
    for chunk in statement_chunks(&sets) {
        let mut query = QueryBuilder::<Sqlite>::new("INSERT INTO plugin_kv (session, plugin, key, value) ");
        query.push_values(chunk, |mut row, ((session, plugin, key), value)| {
            row.push_bind(*session)
                .push_bind(*plugin)
                .push_bind(*key)
                .push_bind(*value);
        });
        query.push(" ON CONFLICT (plugin, session, key) DO UPDATE SET value = excluded.value");
        query.build().execute(&mut *connection).await?;
    }
    let deletes: Vec<_> = batch.kv_deletes().collect();
    for chunk in statement_chunks(&deletes) {
        let mut query = QueryBuilder::<Sqlite>::new("DELETE FROM plugin_kv WHERE (session, plugin, key) IN (VALUES ");
        let mut list = query.separated(", ");
        for (session, plugin, key) in chunk {
            list.push("(").push_bind_unseparated(*session).push_unseparated(", ");
            list.push_bind_unseparated(*plugin).push_unseparated(", ");
            list.push_bind_unseparated(*key).push_unseparated(")");
        }
        query.push(")").build().execute(&mut *connection).await?;
    }
    Ok(())
}

async fn insert_sim_sent(
    connection: &mut SqliteConnection,
    sent: &[&SimSent],
) -> Result<HashSet<(String, String)>, sqlx::Error> {
    let mut inserted = HashSet::new();
    for chunk in statement_chunks(sent) {
        let mut query = QueryBuilder::<Sqlite>::new("INSERT OR IGNORE INTO sim_sent (session, id, action) ");
        query.push_values(chunk, |mut row, sent| {
            row.push_bind(&sent.session).push_bind(&sent.id).push_bind(&sent.action);
        });
        query.push(" RETURNING session, id");
        let rows: Vec<(String, String)> = query.build_query_as().fetch_all(&mut *connection).await?;
        inserted.extend(rows);
    }
    Ok(inserted)
}
