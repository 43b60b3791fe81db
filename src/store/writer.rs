//! Group commit: the one task that writes the durable event path.
//!
//! Journal appends, event completions (done mark + outbox rows + timer
//! deletion, in one transaction), delivered sends and sim acknowledgements
//! from every session queue up here. The writer takes everything waiting,
//! writes it in one transaction with multi-row statements, commits, and
//! answers each request. Under load a commit carries hundreds of events;
//! one statement per event would cap purr at a few thousand events/s (see
//! `../shared/TOOLCHAINS.md`).
//!
//! Every statement is a round trip to sqlx's SQLite thread (two thread
//! wake-ups), and with few producers each waiting for its own commit (API
//! clients) those round trips are the whole cost of a commit. So the rows
//! of each kind go in as one statement whatever their number — one JSON
//! array bound as a single parameter and read with `json_each` — and the
//! writer keeps its connection while there is work (giving it back after
//! [`KEEP_CONNECTION`] idle, so closing the store does not wait for it).
//!
//! If a transaction fails (disk full, read-only file), every request in it
//! gets the error, and so does every later one: the writer stops. Sessions
//! complete their events in order and what is done is one mark per
//! session (everything up to a sequence number), so writing on after a lost completion could mark an event done
//! that never was; stopping keeps the journal true, and producers are told
//! (a network keeps what was not acknowledged). Restart purr once the
//! database is writable: the unfinished events are replayed.

use std::collections::{BTreeMap, HashSet};

use sqlx::pool::PoolConnection;
use sqlx::{Connection as _, QueryBuilder, Sqlite, SqliteConnection, SqlitePool, Transaction};
use tokio::sync::{mpsc, oneshot, watch};

use super::journal::{DeadLetter, JournalEntry, OutboxRow};

/// Requests waiting for the writer, at most.
const QUEUE: usize = 8192;
/// Requests written in one transaction, at most.
const BATCH: usize = 2048;
/// Rows per multi-row statement, at most (SQLite limits bound parameters).
const ROWS_PER_STATEMENT: usize = 128;
/// How long the writer keeps its connection with nothing to write.
const KEEP_CONNECTION: std::time::Duration = std::time::Duration::from_millis(20);

/// What finishing one event writes, atomically.
#[derive(Debug, Default, Clone)]
pub struct Completion {
    pub session: String,
    /// The journal row now done (timer events have none).
    pub journal_seq: Option<i64>,
    /// Set when the event's chain failed for the last time.
    pub dead_letter: Option<DeadLetter>,
    /// The fired timer to delete.
    pub timer_id: Option<String>,
    /// The sends the plugins made while handling it.
    pub outbox: Vec<OutboxRow>,
    /// The plugins' kv writes, in order.
    pub kv: Vec<KvWrite>,
}

/// One kv write of an event: a value set, or (`None`) a key deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvWrite {
    pub plugin: String,
    pub key: String,
    pub value: Option<Vec<u8>>,
}

/// A message a sim session sent, for `[sim] keep_sent`.
#[derive(Debug, Clone)]
pub struct SimSent {
    pub session: String,
    pub id: String,
    pub action: String,
}

type Reply<T> = oneshot::Sender<Result<T, String>>;

enum Job {
    Append(Vec<JournalEntry>, Reply<Vec<bool>>),
    Complete(Box<Completion>, Reply<()>),
    Delivered { session: String, seq: i64 },
    SimAck(Vec<i64>, Reply<()>),
    SimSent(SimSent, Reply<bool>),
    Barrier(Reply<()>),
}

/// The handle sessions write through; cheap to clone.
#[derive(Clone, Debug)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
    /// Why the writer stopped, once it has.
    failure: watch::Receiver<Option<String>>,
}

impl Writer {
    /// Why a request got no answer: the writer task is gone (the store was closed).
    pub const CLOSED: &str = "the database writer has stopped";

    pub(super) fn spawn(pool: SqlitePool) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let (failed, failure) = watch::channel(None);
        std::thread::Builder::new()
            .name("purr-writer".into())
            .spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("writer runtime")
                    .block_on(run(pool, queue, failed))
            })
            .expect("writer thread");
        Writer { jobs, failure }
    }

    /// Why the writer stopped writing (a failed write: disk full, the
    /// database read-only or damaged), if it has. It does not resume: a
    /// batch it could not write broke the order later writes rely on, so
    /// purr must be restarted once the database is writable.
    pub fn failure(&self) -> Option<String> {
        self.failure.borrow().clone()
    }

    /// Resolves with the reason once the writer has stopped writing.
    pub async fn failed(&self) -> String {
        let mut failure = self.failure.clone();
        let reason = failure
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|reason| reason.clone());
        match reason {
            Some(reason) => reason,
            // The writer thread is gone without a failure: the store was closed.
            None => std::future::pending().await,
        }
    }

    /// Journals `entries`; answers, for each, whether it was new (a
    /// duplicate `dedupe_key` is not written).
    pub async fn append(&self, entries: Vec<JournalEntry>) -> Result<Vec<bool>, String> {
        self.append_pipelined(entries)
            .await
            .await
            .map_err(|_| Self::CLOSED.to_string())?
    }

    /// Queues [`append`](Self::append) without waiting for the commit: the
    /// receiver answers once it is committed. Requests commit in the order
    /// they are queued.
    pub async fn append_pipelined(&self, entries: Vec<JournalEntry>) -> oneshot::Receiver<Result<Vec<bool>, String>> {
        let (reply, answer) = oneshot::channel();
        // If the writer is gone, `answer` reports it (its sender is dropped).
        let _ = self.jobs.send(Job::Append(entries, reply)).await;
        answer
    }

    /// Queues an event's completion (one transaction); the returned
    /// receiver answers once it is committed. Completions of one caller
    /// commit in the order they were queued.
    pub async fn complete(&self, completion: Completion) -> oneshot::Receiver<Result<(), String>> {
        let (reply, answer) = oneshot::channel();
        // If the writer is gone, `answer` reports it (its sender is dropped).
        let _ = self.jobs.send(Job::Complete(Box::new(completion), reply)).await;
        answer
    }

    /// The network accepted the session's outbox rows up to `seq`: delete
    /// them (not waited for).
    pub async fn delivered(&self, session: &str, seq: i64) {
        let job = Job::Delivered {
            session: session.to_string(),
            seq,
        };
        let _ = self.jobs.send(job).await;
    }

    /// Sim inbox messages were journaled: deletes them, by their
    /// [`seq`](super::SimInboxRow::seq); answers once that is committed.
    pub async fn sim_ack(&self, seqs: Vec<i64>) -> Result<(), String> {
        self.request(|reply| Job::SimAck(seqs, reply)).await
    }

    /// Waits until everything queued before it is committed (requests are
    /// written in the order they are queued).
    pub async fn barrier(&self) -> Result<(), String> {
        self.request(Job::Barrier).await
    }

    /// Records a sim send; answers whether the id was new.
    pub async fn sim_sent(&self, sent: SimSent) -> Result<bool, String> {
        self.request(|reply| Job::SimSent(sent, reply)).await
    }

    async fn request<T>(&self, job: impl FnOnce(Reply<T>) -> Job) -> Result<T, String> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(job(reply)).await.map_err(|_| Self::CLOSED.to_string())?;
        answer.await.map_err(|_| Self::CLOSED.to_string())?
    }
}

async fn run(pool: SqlitePool, mut queue: mpsc::Receiver<Job>, failure: watch::Sender<Option<String>>) {
    let mut jobs = Vec::with_capacity(BATCH);
    let mut failed: Option<String> = None;
    let mut connection: Option<PoolConnection<Sqlite>> = None;
    loop {
        let received = match connection {
            Some(_) => match tokio::time::timeout(KEEP_CONNECTION, queue.recv_many(&mut jobs, BATCH)).await {
                Ok(received) => received,
                Err(_idle) => {
                    connection = None;
                    queue.recv_many(&mut jobs, BATCH).await
                }
            },
            None => queue.recv_many(&mut jobs, BATCH).await,
        };
        if received == 0 {
            return;
        }
        if let Some(message) = &failed {
            answer(jobs.drain(..), Err(message.clone()));
            continue;
        }
        let started = std::time::Instant::now();
        let written = match &mut connection {
            Some(connection) => write(connection, &jobs).await,
            None => match pool.acquire().await {
                Ok(acquired) => write(connection.insert(acquired), &jobs).await,
                Err(error) => Err(error),
            },
        };
        match written {
            Ok(written) => {
                tracing::trace!(
                    requests = jobs.len(),
                    micros = started.elapsed().as_micros() as u64,
                    "batch committed"
                );
                answer(jobs.drain(..), Ok(written))
            }
            Err(error) => {
                let message = format!("database write failed: {error:#}; restart purr once the database is writable");
                tracing::error!(error = %message, requests = jobs.len(), "journal/outbox batch not written; the writer stops");
                answer(jobs.drain(..), Err(message.clone()));
                failure.send_replace(Some(message.clone()));
                failed = Some(message);
            }
        }
    }
}

/// What one transaction wrote that requests need to know.
struct Written {
    journaled: HashSet<(String, i64)>,
    sim_sent: HashSet<(String, String)>,
}

fn answer(jobs: impl Iterator<Item = Job>, result: Result<Written, String>) {
    for job in jobs {
        match (job, &result) {
            (Job::Append(entries, reply), Ok(written)) => {
                let new = entries
                    .iter()
                    .map(|e| written.journaled.contains(&(e.session.clone(), e.seq)))
                    .collect();
                let _ = reply.send(Ok(new));
            }
            (Job::Complete(_, reply) | Job::SimAck(_, reply) | Job::Barrier(reply), Ok(_)) => {
                let _ = reply.send(Ok(()));
            }
            (Job::SimSent(sent, reply), Ok(written)) => {
                let _ = reply.send(Ok(written.sim_sent.contains(&(sent.session, sent.id))));
            }
            (Job::Append(_, reply), Err(e)) => {
                let _ = reply.send(Err(e.clone()));
            }
            (Job::Complete(_, reply) | Job::SimAck(_, reply) | Job::Barrier(reply), Err(e)) => {
                let _ = reply.send(Err(e.clone()));
            }
            (Job::SimSent(_, reply), Err(e)) => {
                let _ = reply.send(Err(e.clone()));
            }
            (Job::Delivered { .. }, _) => {}
        }
    }
}

async fn write(connection: &mut SqliteConnection, jobs: &[Job]) -> Result<Written, sqlx::Error> {
    let mut appends = Vec::new();
    let mut completions = Vec::new();
    let mut delivered = Vec::new();
    let mut acks = Vec::new();
    let mut sim_sent = Vec::new();
    for job in jobs {
        match job {
            Job::Append(entries, _) => appends.extend(entries),
            Job::Complete(completion, _) => completions.push(&**completion),
            Job::Delivered { session, seq } => delivered.push((session.as_str(), *seq)),
            Job::SimAck(seqs, _) => acks.extend(seqs.iter().copied()),
            Job::SimSent(sent, _) => sim_sent.push(sent),
            Job::Barrier(_) => {}
        }
    }
    let mut tx = connection.begin().await?;
    let journaled = insert_journal(&mut tx, &appends).await?;
    complete(&mut tx, &completions).await?;
    if !delivered.is_empty() {
        let through: Vec<(&str, i64)> = by_session(delivered)
            .into_iter()
            .map(|(session, seqs)| (session, seqs.into_iter().max().unwrap_or(0)))
            .collect();
        sqlx::query(
            "DELETE FROM outbox WHERE rowid IN (SELECT o.rowid FROM json_each(?) AS d \
             JOIN outbox AS o ON o.session = d.value ->> 0 AND o.seq <= d.value ->> 1)",
        )
        .bind(json(&through))
        .execute(&mut *tx)
        .await?;
    }
    if !acks.is_empty() {
        sqlx::query("DELETE FROM sim_inbox WHERE seq IN (SELECT value FROM json_each(?))")
            .bind(json(&acks))
            .execute(&mut *tx)
            .await?;
    }
    let sim_sent = insert_sim_sent(&mut tx, &sim_sent).await?;
    tx.commit().await?;
    Ok(Written { journaled, sim_sent })
}

/// Rows as one JSON array, for a statement that reads them with `json_each`.
fn json(rows: &impl serde::Serialize) -> String {
    serde_json::to_string(rows).expect("rows of strings and integers serialize")
}

/// Splits rows into multi-row statements of power-of-two sizes (128, 64,
/// ... 1). sqlx caches prepared statements by their SQL; with arbitrary
/// sizes every batch would prepare new statements of hundreds of
/// parameters, which costs more than running them.
pub(super) fn statement_chunks<T>(mut rows: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        if rows.is_empty() {
            return None;
        }
        let size = 1 << rows.len().min(ROWS_PER_STATEMENT).ilog2();
        let (chunk, rest) = rows.split_at(size);
        rows = rest;
        Some(chunk)
    })
}

/// Groups (session, item) pairs by session, so statements can use the
/// (session, ...) primary keys.
fn by_session<'a, T>(pairs: impl IntoIterator<Item = (&'a str, T)>) -> BTreeMap<&'a str, Vec<T>> {
    let mut groups: BTreeMap<&str, Vec<T>> = BTreeMap::new();
    for (session, item) in pairs {
        groups.entry(session).or_default().push(item);
    }
    groups
}

/// Inserts the entries, skipping duplicates; returns the (session, seq) written.
/// Only a batch that skipped some is looked into, with one more statement.
async fn insert_journal(
    tx: &mut Transaction<'_, Sqlite>,
    entries: &[&JournalEntry],
) -> Result<HashSet<(String, i64)>, sqlx::Error> {
    if entries.is_empty() {
        return Ok(HashSet::new());
    }
    let rows = json(
        &entries
            .iter()
            .map(|e| (&e.session, e.seq, &e.dedupe_key, &e.event, e.received_at_ms))
            .collect::<Vec<_>>(),
    );
    let written = sqlx::query(
        "INSERT OR IGNORE INTO journal (session, seq, dedupe_key, event, received_at_ms) \
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each(?)",
    )
    .bind(&rows)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if written == entries.len() as u64 {
        return Ok(entries.iter().map(|e| (e.session.clone(), e.seq)).collect());
    }
    // Some were duplicates: the skipped ones have no row under their seq.
    let present: Vec<(String, i64)> = sqlx::query_as(
        "SELECT j.session, j.seq FROM json_each(?) AS d \
         JOIN journal AS j ON j.session = d.value ->> 0 AND j.seq = d.value ->> 1",
    )
    .bind(&rows)
    .fetch_all(&mut **tx)
    .await?;
    Ok(present.into_iter().collect())
}

async fn complete(tx: &mut Transaction<'_, Sqlite>, completions: &[&Completion]) -> Result<(), sqlx::Error> {
    // A session completes its events in order: its newest completion here
    // moves its done mark (one row per session, not one per event).
    let mut done: BTreeMap<&str, i64> = BTreeMap::new();
    for completion in completions {
        if let Some(seq) = completion.journal_seq {
            let through = done.entry(completion.session.as_str()).or_default();
            *through = (*through).max(seq);
        }
    }
    if !done.is_empty() {
        sqlx::query(
            "INSERT INTO journal_done (session, through_seq) SELECT value ->> 0, value ->> 1 FROM json_each(?) \
             WHERE true ON CONFLICT (session) DO UPDATE SET through_seq = max(through_seq, excluded.through_seq)",
        )
        .bind(json(&done.into_iter().collect::<Vec<_>>()))
        .execute(&mut **tx)
        .await?;
    }
    let dead: Vec<&DeadLetter> = completions.iter().filter_map(|c| c.dead_letter.as_ref()).collect();
    for chunk in statement_chunks(&dead) {
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
        query.build().execute(&mut **tx).await?;
    }
    let timers: Vec<&String> = completions.iter().filter_map(|c| c.timer_id.as_ref()).collect();
    if !timers.is_empty() {
        sqlx::query("DELETE FROM timers WHERE id IN (SELECT value FROM json_each(?))")
            .bind(json(&timers))
            .execute(&mut **tx)
            .await?;
    }
    write_kv(tx, completions).await?;
    let now = crate::util::now_ms() as i64;
    let outbox: Vec<_> = completions
        .iter()
        .flat_map(|c| &c.outbox)
        .map(|send: &OutboxRow| (&send.session, send.seq, &send.key, &send.action, now))
        .collect();
    if !outbox.is_empty() {
        sqlx::query(
            "INSERT OR IGNORE INTO outbox (session, seq, key, action, created_at_ms) \
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each(?)",
        )
        .bind(json(&outbox))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The kv writes of the batch, the last per key winning (in queue order).
async fn write_kv(tx: &mut Transaction<'_, Sqlite>, completions: &[&Completion]) -> Result<(), sqlx::Error> {
    let mut last: BTreeMap<(&str, &str, &str), Option<&Vec<u8>>> = BTreeMap::new();
    for completion in completions {
        for write in &completion.kv {
            last.insert(
                (completion.session.as_str(), write.plugin.as_str(), write.key.as_str()),
                write.value.as_ref(),
            );
        }
    }
    let sets: Vec<_> = last
        .iter()
        .filter_map(|(slot, value)| value.map(|v| (*slot, v)))
        .collect();
    for chunk in statement_chunks(&sets) {
        let mut query = QueryBuilder::<Sqlite>::new("INSERT INTO plugin_kv (session, plugin, key, value) ");
        query.push_values(chunk, |mut row, ((session, plugin, key), value)| {
            row.push_bind(*session)
                .push_bind(*plugin)
                .push_bind(*key)
                .push_bind(value.as_slice());
        });
        query.push(" ON CONFLICT (plugin, session, key) DO UPDATE SET value = excluded.value");
        query.build().execute(&mut **tx).await?;
    }
    let deletes = last
        .iter()
        .filter(|(_, value)| value.is_none())
        .map(|((session, plugin, key), _)| (*session, (*plugin, *key)));
    for (session, keys) in by_session(deletes) {
        for chunk in statement_chunks(&keys) {
            let mut query = QueryBuilder::<Sqlite>::new("DELETE FROM plugin_kv WHERE session = ");
            query.push_bind(session).push(" AND (plugin, key) IN (VALUES ");
            let mut list = query.separated(", ");
            for (plugin, key) in chunk {
                list.push("(").push_bind_unseparated(*plugin).push_unseparated(", ");
                list.push_bind_unseparated(*key).push_unseparated(")");
            }
            query.push(")").build().execute(&mut **tx).await?;
        }
    }
    Ok(())
}

async fn insert_sim_sent(
    tx: &mut Transaction<'_, Sqlite>,
    sent: &[&SimSent],
) -> Result<HashSet<(String, String)>, sqlx::Error> {
    let mut inserted = HashSet::new();
    for chunk in statement_chunks(sent) {
        let mut query = QueryBuilder::<Sqlite>::new("INSERT OR IGNORE INTO sim_sent (session, id, action) ");
        query.push_values(chunk, |mut row, sent| {
            row.push_bind(&sent.session).push_bind(&sent.id).push_bind(&sent.action);
        });
        query.push(" RETURNING session, id");
        let rows: Vec<(String, String)> = query.build_query_as().fetch_all(&mut **tx).await?;
        inserted.extend(rows);
    }
    Ok(inserted)
}
