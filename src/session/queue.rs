//! A session's inbound queue and the session's side of the channel sink.
//!
//! Everything for a session enters through its [`EventSink`] (a
//! [`SessionReceiver`] behind it) into the
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

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use super::status::{QrCode, State, StatusCell};
use crate::channel::{ChannelEvent, Commit, Deliver, SessionClosed};

#[cfg(doc)]
use crate::channel::EventSink;

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

/// An item of the intake queue: an event (with whom to tell when it is
/// committed) or a control marker.
#[derive(Debug)]
pub(super) enum Intake {
    Event(Box<ChannelEvent>, oneshot::Sender<Result<bool, String>>),
    Control(SessionInput),
}

/// What a session's [`EventSink`] delivers into.
///
/// Status events update the session's status at once (so `list` is
/// current even while the queue is busy) and are then queued for the
/// plugins like every other event. Once the session is closing it refuses
/// new events, so what is queued can drain while the connection is still
/// up for the replies.
#[derive(Debug)]
pub struct SessionReceiver {
    session: Arc<str>,
    queue: mpsc::Sender<Intake>,
    status: StatusCell,
    accepting: AtomicBool,
}

#[async_trait]
impl Deliver for SessionReceiver {
    fn session(&self) -> &str {
        &self.session
    }

    async fn deliver(&self, event: ChannelEvent) -> Result<Commit, SessionClosed> {
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
}

impl SessionReceiver {
    pub(super) fn new(session: Arc<str>, queue: mpsc::Sender<Intake>, status: StatusCell) -> Self {
        SessionReceiver {
            session,
            queue,
            status,
            accepting: AtomicBool::new(true),
        }
    }

    /// Refuses every later event (the session is closing).
    pub(super) fn stop_accepting(&self) {
        self.accepting.store(false, Ordering::SeqCst);
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
