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
//! Connection events (`qr`, `connected`, ...) are not journaled: they are
//! about the live connection, and replaying them after a restart would lie.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::queue::{Intake, SessionInput};
use crate::channel::ChannelEvent;
use crate::store::{JournalEntry, Writer};
use crate::util::now_ms;

/// Items taken from the intake queue per journal request, at most.
const BATCH: usize = 512;

pub(super) struct JournalStage {
    pub session: Arc<str>,
    pub writer: Writer,
    /// The last journal sequence number used by this session.
    pub last_seq: i64,
    /// `[host] journal`: off, events pass through unwritten.
    pub enabled: bool,
}

impl JournalStage {
    pub(super) async fn run(mut self, mut intake: mpsc::Receiver<Intake>, queue: mpsc::Sender<SessionInput>) {
        let mut items = Vec::with_capacity(BATCH);
        while intake.recv_many(&mut items, BATCH).await > 0 {
            let outcome = self.journal(&items).await;
            for (item, outcome) in items.drain(..).zip(outcome) {
                let input = match item {
                    Intake::Control(input) => input,
                    Intake::Event(event, committed) => {
                        let (seq, answer) = match outcome {
                            Outcome::NotJournaled => (None, Ok(true)),
                            Outcome::Journaled(seq) => (Some(seq), Ok(true)),
                            Outcome::Duplicate => (None, Ok(false)),
                            Outcome::Failed(error) => (None, Err(error)),
                        };
                        let forward = matches!(answer, Ok(true));
                        let _ = committed.send(answer);
                        if !forward {
                            continue;
                        }
                        SessionInput::Event { seq, event }
                    }
                };
                if queue.send(input).await.is_err() {
                    return; // the task is gone
                }
            }
        }
    }

    /// Journals the events of `items`; one outcome per item.
    async fn journal(&mut self, items: &[Intake]) -> Vec<Outcome> {
        let mut outcomes = Vec::with_capacity(items.len());
        let mut entries = Vec::new();
        for item in items {
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
        if entries.is_empty() {
            return outcomes;
        }
        let written = outcomes.iter_mut().filter(|o| matches!(o, Outcome::Journaled(_)));
        match self.writer.append(entries).await {
            Ok(taken) => {
                for (outcome, taken) in written.zip(taken) {
                    if !taken {
                        *outcome = Outcome::Duplicate;
                    }
                }
            }
            Err(error) => {
                tracing::error!(session = &*self.session, %error, "events refused: the journal is not writable");
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
