//! The session task: drains one session's queue, one event at a time.
//!
//! Events are handled strictly in arrival order, after the events a
//! previous run journaled but did not finish (replayed first, read from the
//! journal a page at a time: a backlog of any length costs the task one
//! page of memory — [`Replay`]). Due timers
//! are handled between events, and only while the session is online (a
//! timer that comes due while the account is offline fires once it
//! reconnects, so the plugin can still send its reply).
//!
//! An event is all or nothing for the data it writes: if its chain fails,
//! the kv writes and sends its plugins made are dropped (timers they
//! scheduled stay). Finishing an event is one write: the session's journal done mark moved (or, once
//! its chain has failed `event_attempts` times, a dead letter), the fired
//! timer deleted, the plugins' kv writes applied and their sends put in the
//! outbox. The
//! task does not wait for that commit — the next event starts at once and
//! the writer commits many together — but the sends go out only after it
//! (`sender.rs`). Nothing here can fail the task: plugin failures are the
//! dispatcher's to log, storage failures are logged and the session goes on.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::REPLAY_PAGE;
use super::intake;
use super::queue::SessionInput;
use super::sender::{Outgoing, Sender};
use super::status::StatusCell;
use crate::capability::kv::SessionKv;
use crate::capability::messaging::EventSends;
use crate::capability::timers::SessionTimers;
use crate::channel::ChannelEvent;
use crate::dispatch::{Chain, Outcome};
use crate::observe::SessionObserver;
use crate::store::{Completion, DeadLetter, OutboxRow, Resume, Store, TimerRow};
use crate::util::now_ms;

pub(super) struct SessionTask {
    pub name: Arc<str>,
    pub store: Store,
    pub status: StatusCell,
    pub timers: SessionTimers,
    pub chain: Chain,
    pub sends: EventSends,
    pub kv: SessionKv,
    pub sender: Sender,
    /// Tries of an event whose chain fails, before it becomes a dead letter.
    pub event_attempts: u32,
    /// Counts events in and publishes messages for live viewers.
    pub observer: SessionObserver,
    /// True once the host's stop grace is over: stop after the current event.
    pub halt: tokio::sync::watch::Receiver<bool>,
    /// Whether inbound events are journaled (then what a halt leaves is replayed).
    pub journal: bool,
    /// Whether the last connection event was `connected`.
    pub online: bool,
    /// Ids of events that are not journaled are `<task start in ms, hex>.<n>`: unique per host run.
    pub id_prefix: String,
    pub next_seq: u64,
}

impl SessionTask {
    pub(super) async fn run(mut self, mut inbox: mpsc::Receiver<SessionInput>, mut replay: Replay) {
        tracing::debug!(session = &*self.name, replay = replay.left(), "session task running");
        while !self.halted()
            && let Some((seq, event)) = replay.next().await
        {
            self.handle_event(Some(seq), event).await;
        }
        let gauge = self.chain.gauge().clone();
        loop {
            if self.halted() {
                self.log_halt(replay.left() + inbox.len());
                break;
            }
            // Between events: give instances back if another session ran short.
            self.chain.release_on_shortage();
            tokio::select! {
                input = inbox.recv() => match input {
                    Some(SessionInput::Started) => {
                        let id = self.next_event_id();
                        self.begin(&id);
                        self.chain.dispatch_started(&id, self.self_jid()).await;
                        self.chain.hand_to_shadows();
                        self.complete(Completion::default()).await;
                    }
                    Some(SessionInput::Event { seq, event }) => self.handle_event(seq, *event).await,
                    Some(SessionInput::Flush(done)) => {
                        if let Err(error) = self.store.writer().barrier().await {
                            tracing::error!(session = &*self.name, %error, "flush: completions not written");
                        }
                        self.sender.tried_all().await;
                        let _ = done.send(());
                    }
                    Some(SessionInput::Close) | None => break,
                },
                timer = self.timers.next_due(), if self.online => self.handle_timer(timer).await,
                _ = sleep_until_some(self.chain.next_idle_deadline()) => self.chain.release_idle(),
                // Woken to give instances back: done at the top of the loop.
                _ = gauge.shortage() => {}
            }
        }
        self.sender.tried_all().await;
        tracing::debug!(session = &*self.name, "session task ended");
    }

    fn halted(&self) -> bool {
        *self.halt.borrow()
    }

    /// Says what a halt leaves behind (`left` events taken but not handled).
    fn log_halt(&self, left: usize) {
        if left == 0 {
            tracing::debug!(session = &*self.name, "halted between events");
        } else if self.journal {
            tracing::info!(
                session = &*self.name,
                left,
                "stop grace over: stopping with events unhandled; the journal keeps them for the next start"
            );
        } else {
            tracing::warn!(
                session = &*self.name,
                left,
                "stop grace over: events unhandled and lost ([host] journal = false)"
            );
        }
    }

    async fn handle_event(&mut self, seq: Option<i64>, event: ChannelEvent) {
        let id = match seq {
            Some(seq) => format!("j{seq}"),
            None => self.next_event_id(),
        };
        tracing::debug!(session = &*self.name, event = %id, kind = event.kind(), "event");
        self.observer.event_in(&id, &event);
        self.track_connection(&event);
        self.persist_account(&event).await;
        let mut attempt = 1;
        let outcome = loop {
            self.begin(&id);
            match self.chain.dispatch(&id, &event, self.self_jid()).await {
                Outcome::Failed { .. } if attempt < self.event_attempts => attempt += 1,
                outcome => break outcome,
            }
        };
        self.chain.hand_to_shadows();
        if matches!(outcome, Outcome::Failed { .. }) {
            // A failed event leaves no kv writes and sends behind.
            self.begin(&id);
        }
        let dead_letter = match (outcome, seq) {
            (Outcome::Failed { plugin, error }, Some(seq)) => {
                tracing::warn!(session = &*self.name, event = %id, %plugin, attempts = attempt, "event moved to the dead letters");
                Some(DeadLetter {
                    session: self.name.to_string(),
                    seq,
                    event: serde_json::to_string(&event).unwrap_or_default(),
                    plugin,
                    error,
                    failed_at_ms: now_ms() as i64,
                })
            }
            _ => None,
        };
        self.complete(Completion {
            journal_seq: seq,
            dead_letter,
            ..Completion::default()
        })
        .await;
    }

    async fn handle_timer(&mut self, timer: TimerRow) {
        let id = format!("t{}", timer.id);
        tracing::debug!(session = &*self.name, event = %id, plugin = %timer.plugin, "timer due");
        self.begin(&id);
        self.chain.dispatch_timer(&id, &timer, self.self_jid()).await;
        self.chain.hand_to_shadows();
        self.complete(Completion {
            timer_id: Some(timer.id),
            ..Completion::default()
        })
        .await;
    }

    /// Starts collecting an event's (or attempt's) sends and kv writes.
    fn begin(&mut self, event_id: &str) {
        self.sends.begin(event_id);
        self.kv.begin();
    }

    /// Writes the event's completion with the kv writes and sends it made,
    /// and hands the sends to the sender (which waits for the commit).
    async fn complete(&mut self, mut completion: Completion) {
        completion.session = self.name.to_string();
        completion.kv = self.kv.take();
        let mut sends = Vec::new();
        for (key, action) in self.sends.take() {
            let json = match serde_json::to_string(&action) {
                Ok(json) => json,
                Err(error) => {
                    tracing::error!(session = &*self.name, %key, %error, "send dropped: cannot serialize it");
                    continue;
                }
            };
            let seq = self.sender.next_seq();
            completion.outbox.push(OutboxRow {
                session: self.name.to_string(),
                key: key.clone(),
                seq,
                action: json,
                journal_seq: completion.journal_seq,
            });
            sends.push(Outgoing {
                seq,
                key,
                action: Some(action),
            });
        }
        if completion.journal_seq.is_none()
            && completion.timer_id.is_none()
            && completion.outbox.is_empty()
            && completion.kv.is_empty()
        {
            return;
        }
        let committed = self.store.writer().complete(completion).await;
        if !sends.is_empty() {
            self.sender.send_after(committed, sends);
        }
        if self.kv.oversized() {
            // Everything taken is queued; once committed the database has it all.
            match self.store.writer().barrier().await {
                Ok(()) => self.kv.forget(),
                Err(error) => tracing::error!(session = &*self.name, %error, "kv writes not committed"),
            }
        }
    }

    fn track_connection(&mut self, event: &ChannelEvent) {
        match event {
            ChannelEvent::Connected { .. } => self.online = true,
            ChannelEvent::Disconnected { .. } | ChannelEvent::LoggedOut { .. } => self.online = false,
            _ => {}
        }
    }

    /// Keeps the session row's account address in step with the network.
    async fn persist_account(&mut self, event: &ChannelEvent) {
        let jid = match event {
            ChannelEvent::Connected { jid } => Some(jid.as_str()),
            ChannelEvent::LoggedOut { .. } => None,
            _ => return,
        };
        if let Err(error) = self.store.session_set_jid(&self.name, jid).await {
            tracing::error!(session = &*self.name, error = %format!("{error:#}"), "could not store the session's account address");
        }
    }

    fn self_jid(&self) -> Option<String> {
        self.status.get().jid
    }

    fn next_event_id(&mut self) -> String {
        let id = format!("{}.{}", self.id_prefix, self.next_seq);
        self.next_seq += 1;
        id
    }
}

/// Pause before reading the journal again after a failed read.
const REPLAY_RETRY: Duration = Duration::from_secs(1);

/// The events a previous run journaled and did not finish, handed out in
/// order and read from the journal [`REPLAY_PAGE`] rows at a time.
///
/// It covers the rows after the session's done mark through the last
/// sequence number used when the session was prepared; what is journaled
/// later comes through the session queue, after the replay. Rows are
/// marked done as the task finishes them, so whatever a halt leaves —
/// in the current page or not yet read — stays pending in the journal for
/// the next start.
pub(super) struct Replay {
    store: Store,
    session: Arc<str>,
    /// The last journal row read.
    after: i64,
    /// The last row to replay.
    through: i64,
    /// The page being handed out.
    page: VecDeque<(i64, ChannelEvent)>,
    /// Rows not read yet, as counted at the start (for logs).
    unread: usize,
    /// Stops a retry of an unreadable journal.
    halt: watch::Receiver<bool>,
}

impl Replay {
    /// The replay of `session`'s rows after its done mark through its last
    /// journaled one, as `resume` found them, with the first page read (an
    /// unreadable journal fails the session's start, as it did when the
    /// replay was read whole).
    pub(super) async fn open(
        store: Store,
        session: Arc<str>,
        resume: &Resume,
        halt: watch::Receiver<bool>,
    ) -> anyhow::Result<Self> {
        let mut replay = Replay {
            store,
            session,
            after: resume.journal_done_through,
            through: resume.journal_last_seq,
            page: VecDeque::new(),
            unread: usize::try_from(resume.journal_pending).unwrap_or(0),
            halt,
        };
        replay.read_page().await?;
        Ok(replay)
    }

    /// Events left to replay (about: unreadable rows are counted).
    pub(super) fn left(&self) -> usize {
        self.page.len() + self.unread
    }

    /// The next event, reading the next page when this one is done;
    /// `None` once the replay is over, or when a halt comes while the
    /// journal cannot be read (the rows stay pending).
    pub(super) async fn next(&mut self) -> Option<(i64, ChannelEvent)> {
        loop {
            if let Some(event) = self.page.pop_front() {
                return Some(event);
            }
            if self.after >= self.through {
                return None;
            }
            if let Err(error) = self.read_page().await {
                tracing::error!(
                    session = &*self.session,
                    after = self.after,
                    error = %format!("{error:#}"),
                    "journal unreadable: the replay tries again"
                );
                let halt = &mut self.halt;
                let halted = async {
                    if halt.wait_for(|halt| *halt).await.is_err() {
                        std::future::pending::<()>().await;
                    }
                };
                tokio::select! {
                    _ = tokio::time::sleep(REPLAY_RETRY) => {}
                    _ = halted => return None,
                }
            }
        }
    }

    /// Reads the page after the last row read (none past `through`).
    async fn read_page(&mut self) -> anyhow::Result<()> {
        if self.after >= self.through {
            return Ok(());
        }
        let rows = self
            .store
            .journal_page(&self.session, self.after, self.through, REPLAY_PAGE)
            .await?;
        // An empty page: the rest of the range has no rows (duplicates took numbers without one).
        self.after = rows.last().map_or(self.through, |row| row.seq);
        self.unread = self.unread.saturating_sub(rows.len());
        if self.after >= self.through {
            self.unread = 0;
        }
        let session = self.session.clone();
        self.page
            .extend(rows.into_iter().filter_map(|row| intake::decode(&session, row)));
        Ok(())
    }
}

/// Sleeps until `deadline`; never wakes without one.
async fn sleep_until_some(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}
