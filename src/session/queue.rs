//! A session's inbound queue and the handle channels deliver into.
//!
//! The queue is a bounded `mpsc`: when a session falls behind, whoever
//! feeds it (the network, `purr chat`, tests) waits, and only that session
//! slows down. Control markers travel through the same queue, so they are
//! ordered with the events: a [`SessionInput::Flush`] answers once every
//! event queued before it has been handled.

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
    /// An event from the network.
    Event(Box<ChannelEvent>),
    /// Answered once everything queued before it has been handled.
    Flush(oneshot::Sender<()>),
    /// Ends the session task after everything queued before it.
    Close,
}

/// The session is no longer running; the event was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("session is not running")]
pub struct SessionClosed;

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
    queue: mpsc::Sender<SessionInput>,
    status: StatusCell,
    accepting: Arc<AtomicBool>,
}

impl EventSink {
    pub(super) fn new(session: Arc<str>, queue: mpsc::Sender<SessionInput>, status: StatusCell) -> Self {
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

    /// Queues `event`, waiting while the queue is full.
    pub async fn emit(&self, event: ChannelEvent) -> Result<(), SessionClosed> {
        if !self.accepting.load(Ordering::SeqCst) {
            return Err(SessionClosed);
        }
        self.apply_status(&event);
        self.queue
            .send(SessionInput::Event(Box::new(event)))
            .await
            .map_err(|_| SessionClosed)
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
