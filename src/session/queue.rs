//! A session's inbound queue and the handle channels deliver into.
//!
//! Everything for a session enters through its [`EventSink`] into the
//! bounded intake queue, where the journal stage (`intake.rs`) writes the
//! events to the database before they reach the session task. Both queues
//! are bounded: when a session falls behind, the journal keeps the
//! overflow (the stage spills to it), and with the journal off whoever
//! feeds the session (the network, `purr chat`, tests) waits; either way
//! only that session slows down. Control
//! markers travel the same way, so they are ordered with the events: a
//! [`SessionInput::Flush`] answers once every event queued before it has
//! been handled and its sends handed to the network.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{mpsc, oneshot};

use super::status::{QrCode, State, StatusCell};
use crate::channel::ChannelEvent;

/// One item of a session's queue.
#[derive(Debug)]
pub enum SessionInput {
    /// The session was started: plugins get a `started` event.
    Started,
    /// An event from the network, with its journal sequence number if it
    /// was journaled (connection events are not).
    Event { seq: Option<i64>, event: Box<ChannelEvent> },
    /// Answered once everything queued before it has been handled, its
    /// completion committed and its sends tried.
    Flush(oneshot::Sender<()>),
    /// Ends the session task after everything queued before it.
    Close,
}

/// The session is no longer running; the event was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("session is not running")]
pub struct SessionClosed;

/// Why an event was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmitError {
    #[error(transparent)]
    Closed(#[from] SessionClosed),
    /// The journal could not be written: the event was not taken.
    #[error("the event could not be journaled: {0}")]
    Journal(String),
}

/// What the journal stage says about one event once it is committed:
/// `Ok(true)` taken, `Ok(false)` a duplicate (dropped).
pub type Commit = oneshot::Receiver<Result<bool, String>>;

/// An item of the intake queue: an event (with whom to tell when it is
/// committed) or a control marker.
#[derive(Debug)]
pub(super) enum Intake {
    Event(Box<ChannelEvent>, oneshot::Sender<Result<bool, String>>),
    Control(SessionInput),
}

/// Where a channel delivers a session's events.
///
/// Status events update the session's status at once (so `list` is
/// current even while the queue is busy) and are then queued for the
/// plugins like every other event. Once the session is closing the sink
/// refuses new events, so what is queued can drain while the connection
/// is still up for the replies.
#[derive(Debug, Clone)]
pub struct EventSink {
    session: Arc<str>,
    queue: mpsc::Sender<Intake>,
    status: StatusCell,
    accepting: Arc<AtomicBool>,
}

impl EventSink {
    pub(super) fn new(session: Arc<str>, queue: mpsc::Sender<Intake>, status: StatusCell) -> Self {
        EventSink {
            session,
            queue,
            status,
            accepting: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Refuses every later event (the session is closing).
    pub(super) fn stop_accepting(&self) {
        self.accepting.store(false, Ordering::SeqCst);
    }

    /// The session this sink feeds.
    pub fn session(&self) -> &str {
        &self.session
    }

    /// Delivers `event` and waits until it is journaled (or found to be a
    /// duplicate). Waits while the session's queue is full.
    pub async fn emit(&self, event: ChannelEvent) -> Result<(), EmitError> {
        let commit = self.emit_pipelined(event).await?;
        match commit.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(EmitError::Journal(error)),
            Err(_) => Err(SessionClosed.into()),
        }
    }

    /// Queues `event` without waiting for the journal: the returned
    /// [`Commit`] says when it is durable. Lets one producer keep many
    /// events in flight (a network connection acknowledging in batches).
    pub async fn emit_pipelined(&self, event: ChannelEvent) -> Result<Commit, SessionClosed> {
        if !self.accepting.load(Ordering::SeqCst) {
            return Err(SessionClosed);
        }
        self.apply_status(&event);
        let (committed, commit) = oneshot::channel();
        self.queue
            .send(Intake::Event(Box::new(event), committed))
            .await
            .map_err(|_| SessionClosed)?;
        Ok(commit)
    }

    fn apply_status(&self, event: &ChannelEvent) {
        match event {
            ChannelEvent::Qr { code, expires_in_ms } => self.status.update(|s| {
                s.state = State::ScanQr;
                s.qr = Some(QrCode {
                    code: code.clone(),
                    expires_in_ms: *expires_in_ms,
                });
            }),
            ChannelEvent::PairCode(code) => self.status.update(|s| {
                s.state = State::ScanQr;
                s.pair_code = Some(code.clone());
            }),
            ChannelEvent::Connected { jid } => self.status.update(|s| {
                s.state = State::Connected;
                s.jid = Some(jid.clone());
                s.last_error = None;
            }),
            ChannelEvent::Disconnected { reason } => self.status.update(|s| {
                s.state = State::Disconnected;
                s.last_error = Some(reason.clone());
            }),
            ChannelEvent::LoggedOut { reason } => self.status.update(|s| {
                s.state = State::LoggedOut;
                s.jid = None;
                s.last_error = Some(reason.clone());
            }),
            _ => {}
        }
    }
}

/// One event a test sink took, with the answer its journal commit gets.
#[cfg(test)]
pub(crate) type TakenEvent = (ChannelEvent, oneshot::Sender<Result<bool, String>>);

#[cfg(test)]
impl EventSink {
    /// A sink for channel tests: the test receives every event with its
    /// commit, playing the journal (answering, or not yet).
    pub(crate) fn for_test(session: &str) -> (EventSink, mpsc::UnboundedReceiver<TakenEvent>) {
        let (queue, mut intake) = mpsc::channel(64);
        let (taken, events) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(item) = intake.recv().await {
                if let Intake::Event(event, commit) = item
                    && taken.send((*event, commit)).is_err()
                {
                    return;
                }
            }
        });
        (EventSink::new(Arc::from(session), queue, StatusCell::new(None)), events)
    }
}
