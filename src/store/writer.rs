//! Group commit: the one task that writes the durable event path.
//!
//! Journal appends, event completions (done mark + outbox rows + timer
//! deletion, in one transaction), delivered sends (the session's sent mark
//! moved: the rows stay, as the record of what was sent) and sim
//! acknowledgements from every session queue up here. The writer takes everything waiting,
//! writes it in one transaction (a fixed handful of statements, however
//! many rows: see `sqlite.rs` and `postgres.rs`), commits, and answers
//! each request. Under load a commit carries hundreds of events;
//! one statement per event would cap purr at a few thousand events/s (see
//! `../shared/TOOLCHAINS.md`).
//!
//! The writer runs on a thread of its own. On SQLite it writes through a
//! connection of its own on that thread (see `sqlite.rs`: no hand-off per
//! statement); on PostgreSQL it borrows a pool connection while there is
//! work (giving it back after [`KEEP_CONNECTION`] idle).
//!
//! If a transaction fails (disk full, read-only file), every request in it
//! gets the error, and so does every later one: the writer stops. Sessions
//! complete their events in order and what is done is one mark per
//! session (everything up to a sequence number), so writing on after a lost completion could mark an event done
//! that never was; stopping keeps the journal true, and producers are told
//! (a network keeps what was not acknowledged). Restart purr once the
//! database is writable: the unfinished events are replayed.

use std::collections::HashSet;

mod batch;
mod checkpoint;
mod postgres;
mod sqlite;

use tokio::sync::{mpsc, oneshot, watch};

use super::fence::Claim;
use super::{Db, Leases};

use super::journal::{DeadLetter, JournalEntry, OutboxRow};

/// Requests waiting for the writer, at most.
const QUEUE: usize = 8192;
/// Requests written in one transaction, at most.
const BATCH: usize = 2048;
/// How long the writer keeps a pool connection (PostgreSQL) with nothing to write.
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
    /// `session`'s outbox rows up to `through` were sent: its sent mark moves there.
    Delivered {
        session: String,
        through: i64,
    },
    SimAck(Vec<i64>, Reply<()>),
    SimSent(SimSent, Reply<bool>),
    Barrier(Reply<()>),
    /// Everything queued before it is written; then the writer closes its
    /// connections and ends (later requests get [`Writer::CLOSED`]).
    Close(Reply<()>),
}

/// The session a request writes for and what this host knew of its lease
/// when it was queued; the batch's transaction admits the request by the
/// rule of `fence.rs` (see [`Leases`]).
struct Stamp {
    session: String,
    claim: Claim,
}

/// A request as queued: stamped when it writes a session's rows and the
/// database is shared.
type Queued = (Job, Option<Stamp>);

/// The handle sessions write through; cheap to clone.
#[derive(Clone, Debug)]
pub struct Writer {
    jobs: mpsc::Sender<Queued>,
    leases: Leases,
    /// Why the writer stopped, once it has.
    failure: watch::Receiver<Option<String>>,
}

impl Writer {
    /// Why a request got no answer: the writer task is gone (the store was closed).
    pub const CLOSED: &str = "the database writer has stopped";

    /// Starts the writer of `db` (on SQLite, opening its own connection
    /// first: a store that cannot open it fails to start).
    pub(super) fn spawn(db: Db, leases: Leases) -> anyhow::Result<Self> {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let (failed, failure) = watch::channel(None);
        match db {
            Db::Sqlite(pool) => start(sqlite::SqliteBatches::open(pool)?, queue, failed),
            Db::Postgres(pool) => start(postgres::PgBatches::new(pool), queue, failed),
        }
        Ok(Writer { jobs, leases, failure })
    }

    /// Whether this host may act for `session` now: always on SQLite; on a
    /// shared database, while it holds the session's lease (see [`Leases`]).
    pub fn may_act(&self, session: &str) -> bool {
        self.leases.valid(session)
    }

    /// `job` as queued, stamped for `session` when writes are fenced.
    fn stamped(&self, job: Job, session: Option<&str>) -> Queued {
        let stamp = session.filter(|_| self.leases.enabled()).map(|session| Stamp {
            session: session.to_string(),
            claim: self.leases.claim(session),
        });
        (job, stamp)
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
        let session = entries.first().map(|entry| entry.session.clone());
        let _ = self
            .jobs
            .send(self.stamped(Job::Append(entries, reply), session.as_deref()))
            .await;
        answer
    }

    /// Queues an event's completion (one transaction); the returned
    /// receiver answers once it is committed. Completions of one caller
    /// commit in the order they were queued.
    pub async fn complete(&self, completion: Completion) -> oneshot::Receiver<Result<(), String>> {
        let (reply, answer) = oneshot::channel();
        // If the writer is gone, `answer` reports it (its sender is dropped).
        let session = completion.session.clone();
        let job = Job::Complete(Box::new(completion), reply);
        let _ = self.jobs.send(self.stamped(job, Some(&session))).await;
        answer
    }

    /// The network accepted the session's outbox rows up to `through`
    /// (sends leave in order): moves its sent mark there (never back), so
    /// they are no longer pending; the rows stay as the record of what was
    /// sent until pruned. Not waited for.
    pub async fn delivered(&self, session: &str, through: i64) {
        let job = Job::Delivered {
            session: session.to_string(),
            through,
        };
        let _ = self.jobs.send(self.stamped(job, Some(session))).await;
    }

    /// Sim inbox messages were journaled: deletes them, by their
    /// [`seq`](super::SimInboxRow::seq); answers once that is committed.
    pub async fn sim_ack(&self, seqs: Vec<i64>) -> Result<(), String> {
        self.request(|reply| Job::SimAck(seqs, reply), None).await
    }

    /// Waits until everything queued before it is committed (requests are
    /// written in the order they are queued).
    pub async fn barrier(&self) -> Result<(), String> {
        self.request(Job::Barrier, None).await
    }

    /// Writes what is queued, then closes the writer's connections and
    /// ends it (see [`Store::close`](super::Store::close)).
    pub async fn close(&self) -> Result<(), String> {
        self.request(Job::Close, None).await
    }

    /// Records a sim send; answers whether the id was new.
    pub async fn sim_sent(&self, sent: SimSent) -> Result<bool, String> {
        let session = sent.session.clone();
        self.request(|reply| Job::SimSent(sent, reply), Some(&session)).await
    }

    async fn request<T>(&self, job: impl FnOnce(Reply<T>) -> Job, session: Option<&str>) -> Result<T, String> {
        let (reply, answer) = oneshot::channel();
        let queued = self.stamped(job(reply), session);
        self.jobs.send(queued).await.map_err(|_| Self::CLOSED.to_string())?;
        answer.await.map_err(|_| Self::CLOSED.to_string())?
    }
}

/// A backend's side of the writer: the connection it writes batches on.
trait Backend {
    /// Writes `jobs` in one transaction (rolled back on failure).
    async fn write(&mut self, jobs: &[Queued]) -> anyhow::Result<Written>;

    /// Whether [`idle`](Self::idle) has something to let go of.
    fn holds_pooled(&self) -> bool {
        false
    }

    /// Nothing came for [`KEEP_CONNECTION`]: gives back what the pool may want.
    fn idle(&mut self) {}
}

/// Runs the writer on `backend` on a thread of its own (a current-thread
/// runtime: each answer of the database wakes it at once).
fn start(
    backend: impl Backend + Send + 'static,
    queue: mpsc::Receiver<Queued>,
    failure: watch::Sender<Option<String>>,
) {
    std::thread::Builder::new()
        .name("purr-writer".into())
        .spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("writer runtime")
                .block_on(run(backend, queue, failure))
        })
        .expect("writer thread");
}

async fn run(mut backend: impl Backend, mut queue: mpsc::Receiver<Queued>, failure: watch::Sender<Option<String>>) {
    let mut jobs = Vec::with_capacity(BATCH);
    let mut failed: Option<String> = None;
    loop {
        let received = match backend.holds_pooled() {
            true => match tokio::time::timeout(KEEP_CONNECTION, queue.recv_many(&mut jobs, BATCH)).await {
                Ok(received) => received,
                Err(_idle) => {
                    backend.idle();
                    queue.recv_many(&mut jobs, BATCH).await
                }
            },
            false => queue.recv_many(&mut jobs, BATCH).await,
        };
        if received == 0 {
            return;
        }
        let closing = jobs.iter().any(|(job, _)| matches!(job, Job::Close(_)));
        let started = std::time::Instant::now();
        let written = match &failed {
            Some(message) => Err(message.clone()),
            None => backend.write(&jobs).await.map_err(|error| {
                format!("database write failed: {error:#}; restart purr once the database is writable")
            }),
        };
        if closing {
            // Its connections close before the answer: the store closes the
            // pool's next, and the last connection to close removes the WAL.
            drop(backend);
            report(&mut jobs, written, started, &mut failed, &failure);
            return;
        }
        report(&mut jobs, written, started, &mut failed, &failure);
    }
}

/// Answers the batch's requests; a first failure stops the writer (`failed`).
fn report(
    jobs: &mut Vec<Queued>,
    written: Result<Written, String>,
    started: std::time::Instant,
    failed: &mut Option<String>,
    failure: &watch::Sender<Option<String>>,
) {
    match written {
        Ok(written) => {
            tracing::trace!(
                requests = jobs.len(),
                micros = started.elapsed().as_micros() as u64,
                "batch committed"
            );
            answer(jobs.drain(..), Ok(written))
        }
        Err(message) if failed.is_some() => answer(jobs.drain(..), Err(message)),
        Err(message) => {
            tracing::error!(error = %message, requests = jobs.len(), "journal/outbox batch not written; the writer stops");
            answer(jobs.drain(..), Err(message.clone()));
            failure.send_replace(Some(message.clone()));
            *failed = Some(message);
        }
    }
}

/// What one transaction wrote that requests need to know.
#[derive(Default)]
struct Written {
    journaled: HashSet<(String, i64)>,
    sim_sent: HashSet<(String, String)>,
    /// The requests (by position in the batch) refused, not written: their
    /// session's lease is no longer this host's.
    refused: HashSet<usize>,
}

/// Why a request of a session whose lease this host lost was refused.
fn lease_lost(session: &str) -> String {
    format!("lease lost: session {session:?} is run by another host now; nothing was written")
}

fn answer(jobs: impl Iterator<Item = Queued>, result: Result<Written, String>) {
    for (index, (job, stamp)) in jobs.enumerate() {
        let refused = match (&result, &stamp) {
            (Ok(written), Some(stamp)) if written.refused.contains(&index) => Some(lease_lost(&stamp.session)),
            _ => None,
        };
        let refusal;
        let result = match refused {
            Some(reason) => {
                refusal = Err(reason);
                &refusal
            }
            None => &result,
        };
        match (job, result) {
            (Job::Append(entries, reply), Ok(written)) => {
                let new = entries
                    .iter()
                    .map(|e| written.journaled.contains(&(e.session.clone(), e.seq)))
                    .collect();
                let _ = reply.send(Ok(new));
            }
            (Job::Complete(_, reply) | Job::SimAck(_, reply) | Job::Barrier(reply) | Job::Close(reply), Ok(_)) => {
                let _ = reply.send(Ok(()));
            }
            (Job::SimSent(sent, reply), Ok(written)) => {
                let _ = reply.send(Ok(written.sim_sent.contains(&(sent.session, sent.id))));
            }
            (Job::Append(_, reply), Err(e)) => {
                let _ = reply.send(Err(e.clone()));
            }
            (Job::Complete(_, reply) | Job::SimAck(_, reply) | Job::Barrier(reply) | Job::Close(reply), Err(e)) => {
                let _ = reply.send(Err(e.clone()));
            }
            (Job::SimSent(_, reply), Err(e)) => {
                let _ = reply.send(Err(e.clone()));
            }
            (Job::Delivered { .. }, _) => {}
        }
    }
}
