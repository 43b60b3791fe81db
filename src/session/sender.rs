//! The outbox sender: delivers a session's committed sends, in order.
//!
//! Plugins' sends are written to the outbox in the transaction that
//! completes the event that made them (see `task.rs`); this task waits for
//! that commit, then performs each send on the channel under its
//! idempotency key — so a send retried after a crash carries the same
//! message id and the network takes it once. A send made while the session
//! is offline waits until it is connected; one that fails otherwise is
//! retried with backoff (50 ms doubling to 5 s) until it goes through; one
//! the channel can never perform is logged and dropped. Each wake-up takes
//! every queued event whose commit is already in and then moves the
//! session's sent mark once (one writer request per round, not per
//! event); the rows stay in the outbox as the record of what was sent
//! (`purr replay` compares against it) until `[host] journal_keep` prunes
//! them. On start, the rows after the mark, left by a previous run, are
//! delivered first. When hosts share a database, nothing is sent once
//! this host's lease on the session may have expired.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use super::status::{State, StatusCell};
use crate::channel::{Channel, Outbound, SendError};
use crate::store::{OutboxRow, Writer};

const FIRST_RETRY: Duration = Duration::from_millis(50);
const MAX_RETRY: Duration = Duration::from_secs(5);

/// One send as the sender performs it: its outbox row's number and
/// idempotency key, and the action (decoded once: a fresh send comes from
/// the session task as it is, a row a previous run left is read at start;
/// `None` for a row that could not be read, passed over like a sent one).
pub(super) struct Outgoing {
    pub seq: i64,
    pub key: String,
    pub action: Option<Outbound>,
}

/// Sends of one completed event, with the commit to wait for.
struct Batch {
    committed: Commit,
    sends: Vec<Outgoing>,
}

/// Where a batch's commit stands.
enum Commit {
    /// Waiting for the writer's answer.
    Waiting(oneshot::Receiver<Result<(), String>>),
    /// Answered: `Err` if the rows are not in the outbox (or the writer is gone).
    Answered(Result<(), Option<String>>),
}

impl Commit {
    /// The writer's answer, waiting for it.
    async fn answer(self) -> Result<(), Option<String>> {
        match self {
            Commit::Waiting(answer) => answer.await.map_err(|_| None)?.map_err(Some),
            Commit::Answered(answer) => answer,
        }
    }

    /// Whether the answer is in (then kept), without waiting.
    fn is_answered(&mut self) -> bool {
        if let Commit::Waiting(answer) = self {
            match answer.try_recv() {
                Ok(result) => *self = Commit::Answered(result.map_err(Some)),
                Err(oneshot::error::TryRecvError::Empty) => return false,
                Err(oneshot::error::TryRecvError::Closed) => *self = Commit::Answered(Err(None)),
            }
        }
        true
    }
}

/// The handle the session task uses.
pub(super) struct Sender {
    batches: mpsc::UnboundedSender<Batch>,
    /// The outbox seq up to which every send was tried at least once, and
    /// whether the sender is waiting to retry (offline, network trouble).
    tried: watch::Receiver<(i64, bool)>,
    /// The last seq handed over.
    last_seq: i64,
    status: StatusCell,
}

impl Sender {
    /// Starts the sender of `session`; `pending` are rows a previous run left.
    pub(super) fn spawn(
        session: Arc<str>,
        channel: Arc<dyn Channel>,
        status: StatusCell,
        writer: Writer,
        pending: Vec<OutboxRow>,
        last_seq: i64,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (batches, queue) = mpsc::unbounded_channel();
        let tried_from = pending.first().map_or(last_seq, |row| row.seq - 1);
        let (tried_tx, tried) = watch::channel((tried_from, false));
        if !pending.is_empty() {
            let _ = batches.send(Batch {
                committed: Commit::Answered(Ok(())),
                sends: pending.into_iter().map(|row| decode(&session, row)).collect(),
            });
        }
        let link = Link {
            session,
            channel,
            status: status.clone(),
            writer,
        };
        let task = tokio::spawn(deliver(link, queue, tried_tx));
        (
            Sender {
                batches,
                tried,
                last_seq,
                status,
            },
            task,
        )
    }

    /// The next outbox sequence number.
    pub(super) fn next_seq(&mut self) -> i64 {
        self.last_seq += 1;
        self.last_seq
    }

    /// Hands over an event's sends, to be made once `committed` says their
    /// rows are in the outbox.
    pub(super) fn send_after(&self, committed: oneshot::Receiver<Result<(), String>>, sends: Vec<Outgoing>) {
        let _ = self.batches.send(Batch {
            committed: Commit::Waiting(committed),
            sends,
        });
    }

    /// Waits until every send handed over so far was tried at least once,
    /// or the sender is held up retrying while the session is offline (then
    /// the rest waits in the outbox for the connection).
    pub(super) async fn tried_all(&mut self) {
        let target = self.last_seq;
        let status = self.status.clone();
        let _ = self
            .tried
            .wait_for(|(tried, retrying)| *tried >= target || (*retrying && status.state() != State::Connected))
            .await;
    }
}

/// What the delivering task works with.
struct Link {
    session: Arc<str>,
    channel: Arc<dyn Channel>,
    status: StatusCell,
    writer: Writer,
}

/// Delivers batches in order. Each wake-up takes every batch whose commit
/// is already answered, and moves the sent mark once for them all.
async fn deliver(link: Link, mut queue: mpsc::UnboundedReceiver<Batch>, tried: watch::Sender<(i64, bool)>) {
    let session = &*link.session;
    let mut next: Option<Batch> = None;
    loop {
        let batch = match next.take() {
            Some(batch) => batch,
            None => match queue.recv().await {
                Some(batch) => batch,
                None => return,
            },
        };
        let mut batch = Some(batch);
        // The last send made in this round: the sent mark moves there.
        let mut sent = None;
        while let Some(Batch { committed, sends }) = batch.take() {
            let Some(last) = sends.last().map(|send| send.seq) else {
                continue;
            };
            match committed.answer().await {
                Ok(()) => {}
                Err(Some(error)) => {
                    // Not in the outbox, so not sent: the event is replayed after a restart.
                    tracing::error!(session, %error, sends = sends.len(), "sends not written to the outbox; not sent");
                    mark_sent(&link, &tried, sent.take()).await;
                    tried.send_replace((last, false));
                    continue;
                }
                Err(None) => return, // the writer is gone: the host is stopping
            }
            for send in &sends {
                if !send_one(&link, send, &tried).await {
                    // Held back: this send and the rest stay in the outbox
                    // for the host that runs the session now.
                    mark_sent(&link, &tried, sent).await;
                    return;
                }
                sent = Some(send.seq);
            }
            // The next batch too, if its commit is answered already.
            if let Ok(mut queued) = queue.try_recv() {
                if queued.committed.is_answered() {
                    batch = Some(queued);
                } else {
                    next = Some(queued);
                }
            }
        }
        mark_sent(&link, &tried, sent).await;
    }
}

/// Moves the session's sent mark through `seq`, then says every send
/// through it was tried: queued first, so a flush (and a clean stop) also
/// covers the mark.
async fn mark_sent(link: &Link, tried: &watch::Sender<(i64, bool)>, seq: Option<i64>) {
    if let Some(seq) = seq {
        link.writer.delivered(&link.session, seq).await;
        tried.send_replace((seq, false));
    }
}

/// A row a previous run left, to send; an unreadable one is logged and
/// will be passed over (the sent mark moves past it, so it is not read
/// again at every start).
fn decode(session: &str, row: OutboxRow) -> Outgoing {
    let action = serde_json::from_str(&row.action)
        .inspect_err(|error| tracing::error!(session, key = %row.key, %error, "unreadable outbox row dropped"))
        .ok();
    Outgoing {
        seq: row.seq,
        key: row.key,
        action,
    }
}

/// Performs one send, retrying until the network takes it (or never
/// can); false when it was held back (the lease may be gone), not sent.
async fn send_one(link: &Link, row: &Outgoing, tried: &watch::Sender<(i64, bool)>) -> bool {
    let session = &*link.session;
    let Some(action) = &row.action else { return true }; // unreadable: passed over
    let id = link.channel.message_id(&row.key);
    let mut retry = FIRST_RETRY;
    loop {
        // Hosts sharing a database: a host whose lease may be gone sends
        // nothing (the row stays in the outbox for the session's new host).
        if !link.writer.may_act(session) {
            tracing::warn!(session, key = %row.key, "send held back: lease lost");
            return false;
        }
        match link.channel.send(&id, action.clone()).await {
            Ok(()) => return true,
            Err(error @ SendError::Unsupported { .. }) => {
                tracing::error!(session, key = %row.key, %error, "send dropped");
                return true;
            }
            Err(SendError::NotConnected) if link.status.state() != State::Connected => {
                tried.send_replace((row.seq, true));
                // Wakes when the session is connected again (or its status is gone).
                let _ = link.status.subscribe().wait_for(|s| s.state == State::Connected).await;
            }
            Err(error) => {
                tried.send_replace((row.seq, true));
                tracing::debug!(session, key = %row.key, %error, retry_in = ?retry, "send will be retried");
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(MAX_RETRY);
            }
        }
    }
}
