//! The journal stage: between a session's sink and its task.
//!
//! It takes everything waiting in the session's intake queue, journals the
//! events among them in one request to the database writer (which commits
//! many sessions' requests together), tells each producer its event is
//! committed — or was a duplicate of one already journaled, by the
//! network's message id — and then passes events and control markers on to
//! the session task, in the order they came. Only then may a network
//! acknowledge a message: from here on a crash replays it.
//!
//! Requests are pipelined: while one is being committed the stage takes
//! what arrived meanwhile and queues the next (up to [`IN_FLIGHT`]), so
//! producers that each wait for their own event (API clients) share the
//! writer's next commit instead of waiting for this one to be answered
//! first. Answers are handled in the order the requests were made, which
//! is the order the writer commits them.
//!
//! When the task falls behind, the journal keeps the overflow: the stage
//! goes on taking and committing events (so the network is acknowledged
//! and a flood costs disk, not memory), holds up to `queue_capacity` of
//! them in memory and, beyond that, only their sequence numbers; it reads
//! those back from the journal, in order, as the task catches up. With the
//! journal off there is nothing to read back: the stage stops taking
//! events and the producer waits.
//!
//! Connection events (`qr`, `connected`, ...) are not journaled: they are
//! about the live connection, and replaying them after a restart would lie.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::queue::{Intake, SessionInput};
use crate::channel::ChannelEvent;
use crate::store::{JournalEntry, PendingEvent, Store, Writer};
use crate::util::now_ms;

/// Items taken from the intake queue per journal request, at most.
const BATCH: usize = 512;
/// Journal requests queued at the writer and not yet answered, at most.
const IN_FLIGHT: usize = 8;
/// Spilled events read back from the journal per query, at most.
const READ_BACK: i64 = 256;
/// Pause before reading spilled events again after a failed read.
const READ_BACK_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

pub(super) struct JournalStage {
    pub session: Arc<str>,
    pub store: Store,
    pub writer: Writer,
    /// The last journal sequence number used by this session.
    pub last_seq: i64,
    /// `[host] journal`: off, events pass through unwritten.
    pub enabled: bool,
    /// Committed items held in memory for the task, at most (beyond it,
    /// journaled events are spilled).
    pub memory: usize,
}

/// Items whose journal request is at the writer.
struct Request {
    items: Vec<Intake>,
    outcomes: Vec<Outcome>,
    /// The writer's answer: for each journaled event, whether it was new.
    answer: oneshot::Receiver<Result<Vec<bool>, String>>,
}

impl JournalStage {
    pub(super) async fn run(mut self, mut intake: mpsc::Receiver<Intake>, queue: mpsc::Sender<SessionInput>) {
        let mut backlog = Backlog::default();
        let mut requests: VecDeque<Request> = VecDeque::with_capacity(IN_FLIGHT);
        let mut intake_open = true;
        loop {
            // With the journal on, events beyond `memory` are spilled, so
            // the intake is always read; off, the producer has to wait.
            let take = intake_open
                && requests.len() < IN_FLIGHT
                && (self.enabled || backlog.in_memory + requests.len() < self.memory);
            tokio::select! {
                // Feed the task first: spilled events are older than new ones.
                biased;
                permit = queue.reserve(), if !backlog.is_empty() => {
                    let Ok(mut permit) = permit else { return }; // the task is gone
                    // Hand over as much as the task's queue takes.
                    while let Some(input) = backlog.pop(&self.store, &self.session, self.memory).await {
                        permit.send(input);
                        match queue.try_reserve() {
                            Ok(next) if !backlog.is_empty() => permit = next,
                            _ => break,
                        }
                    }
                }
                answer = async { (&mut requests.front_mut().expect("a request").answer).await }, if !requests.is_empty() => {
                    let request = requests.pop_front().expect("a request");
                    let answer = answer.unwrap_or_else(|_| Err(Writer::CLOSED.to_string()));
                    let outcomes = self.answered(request.outcomes, answer);
                    for (item, outcome) in request.items.into_iter().zip(outcomes) {
                        if let Some((seq, input)) = committed(item, outcome)
                            && backlog.push(seq, input, self.memory)
                        {
                            tracing::debug!(session = &*self.session, ?seq, "session behind: events wait in the journal");
                        }
                    }
                }
                taken = async {
                    let mut items = Vec::new(); // grows to what is queued
                    intake.recv_many(&mut items, BATCH).await;
                    items
                }, if take => {
                    if taken.is_empty() {
                        intake_open = false;
                        continue;
                    }
                    let request = self.journal(taken).await;
                    requests.push_back(request);
                }
                else => return, // nothing more will come, and all was handed over
            }
        }
    }

    /// Queues the journal request for the events of `items` at the writer.
    async fn journal(&mut self, items: Vec<Intake>) -> Request {
        let mut outcomes = Vec::with_capacity(items.len());
        let mut entries = Vec::new();
        for item in &items {
            let Intake::Event(event, _) = item else {
                outcomes.push(Outcome::NotJournaled);
                continue;
            };
            if !self.enabled || !journaled(event) {
                outcomes.push(Outcome::NotJournaled);
                continue;
            }
            let json = match serde_json::to_string(&**event) {
                Ok(json) => json,
                Err(error) => {
                    outcomes.push(Outcome::Failed(format!("cannot serialize the event: {error}")));
                    continue;
                }
            };
            self.last_seq += 1;
            outcomes.push(Outcome::Journaled(self.last_seq));
            entries.push(JournalEntry {
                session: self.session.to_string(),
                seq: self.last_seq,
                dedupe_key: dedupe_key(event),
                event: json,
                received_at_ms: now_ms() as i64,
            });
        }
        let answer = if entries.is_empty() {
            let (answered, answer) = oneshot::channel();
            let _ = answered.send(Ok(Vec::new()));
            answer
        } else {
            self.writer.append_pipelined(entries).await
        };
        Request {
            items,
            outcomes,
            answer,
        }
    }

    /// The outcomes of a request once the writer answered it.
    fn answered(&self, mut outcomes: Vec<Outcome>, answer: Result<Vec<bool>, String>) -> Vec<Outcome> {
        let written = outcomes.iter_mut().filter(|o| matches!(o, Outcome::Journaled(_)));
        match answer {
            Ok(taken) => {
                for (outcome, taken) in written.zip(taken) {
                    if !taken {
                        *outcome = Outcome::Duplicate;
                    }
                }
            }
            Err(error) => {
                let mut written = written.peekable();
                if written.peek().is_some() {
                    tracing::error!(session = &*self.session, %error, "events refused: the journal is not writable");
                }
                for outcome in written {
                    *outcome = Outcome::Failed(error.clone());
                }
            }
        }
        outcomes
    }
}

enum Outcome {
    NotJournaled,
    Journaled(i64),
    Duplicate,
    Failed(String),
}

/// Answers the producer of `item` and returns what goes on to the task
/// (with the event's journal sequence number), if anything.
fn committed(item: Intake, outcome: Outcome) -> Option<(Option<i64>, SessionInput)> {
    let (event, committed) = match item {
        Intake::Control(input) => return Some((None, input)),
        Intake::Event(event, committed) => (event, committed),
    };
    let (seq, answer) = match outcome {
        Outcome::NotJournaled => (None, Ok(true)),
        Outcome::Journaled(seq) => (Some(seq), Ok(true)),
        Outcome::Duplicate => (None, Ok(false)),
        Outcome::Failed(error) => (None, Err(error)),
    };
    let forward = matches!(answer, Ok(true));
    let _ = committed.send(answer);
    forward.then_some((seq, SessionInput::Event { seq, event }))
}

/// Committed items waiting for the task, in order.
#[derive(Default)]
struct Backlog {
    items: VecDeque<Waiting>,
    /// Items held whole in memory.
    in_memory: usize,
}

enum Waiting {
    Item(SessionInput),
    /// Journaled events dropped from memory: the journal rows of the
    /// session from `from` through `to` (numbers without a row were
    /// duplicates, never forwarded).
    Spilled {
        from: i64,
        to: i64,
    },
}

impl Backlog {
    fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Queues `input`; a journaled event is spilled once `memory` items
    /// are held, and after any spilled one (order is kept by reading them
    /// back in sequence). Returns whether this began a spilled range.
    fn push(&mut self, seq: Option<i64>, input: SessionInput, memory: usize) -> bool {
        if let Some(seq) = seq {
            match self.items.back_mut() {
                Some(Waiting::Spilled { to, .. }) => {
                    *to = seq;
                    return false;
                }
                _ if self.in_memory >= memory => {
                    self.items.push_back(Waiting::Spilled { from: seq, to: seq });
                    return true;
                }
                _ => {}
            }
        }
        self.in_memory += 1;
        self.items.push_back(Waiting::Item(input));
        false
    }

    /// The next item for the task, reading spilled events back from the
    /// journal. `None` if a spilled range read back nothing (or could not
    /// be read: then it is kept, and tried again after a pause, so no
    /// event is skipped).
    async fn pop(&mut self, store: &Store, session: &str, memory: usize) -> Option<SessionInput> {
        if let Some(&Waiting::Spilled { from, to }) = self.items.front() {
            let through = to.min(from + READ_BACK.min(memory as i64) - 1);
            match store.journal_range(session, from, through).await {
                Ok(rows) => {
                    self.items.pop_front();
                    if through < to {
                        self.items.push_front(Waiting::Spilled { from: through + 1, to });
                    }
                    for (seq, event) in rows.into_iter().rev().filter_map(|row| decode(session, row)) {
                        self.in_memory += 1;
                        let event = Box::new(event);
                        self.items
                            .push_front(Waiting::Item(SessionInput::Event { seq: Some(seq), event }));
                    }
                }
                Err(error) => {
                    tracing::error!(session, from, through, error = %format!("{error:#}"), "spilled events unreadable; retrying");
                    tokio::time::sleep(READ_BACK_RETRY).await;
                    return None;
                }
            }
        }
        match self.items.pop_front()? {
            Waiting::Item(input) => {
                self.in_memory -= 1;
                Some(input)
            }
            spilled => {
                self.items.push_front(spilled);
                None
            }
        }
    }
}

/// A journal row back as an event; an unreadable row is logged and skipped.
pub(super) fn decode(session: &str, row: PendingEvent) -> Option<(i64, ChannelEvent)> {
    match serde_json::from_str(&row.event) {
        Ok(event) => Some((row.seq, event)),
        Err(error) => {
            tracing::error!(session, seq = row.seq, %error, "unreadable journal row skipped");
            None
        }
    }
}

/// Whether `event` goes through the journal.
fn journaled(event: &ChannelEvent) -> bool {
    !matches!(
        event,
        ChannelEvent::Qr { .. }
            | ChannelEvent::PairCode(_)
            | ChannelEvent::Connected { .. }
            | ChannelEvent::Disconnected { .. }
            | ChannelEvent::LoggedOut { .. }
    )
}

/// The network's id of the event, when it has one: a redelivery carries the same.
fn dedupe_key(event: &ChannelEvent) -> Option<String> {
    match event {
        ChannelEvent::Message(message) => Some(message.id.clone()),
        _ => None,
    }
}
