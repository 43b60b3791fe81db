//! The sink a channel hands one session's events to, and its errors.
//!
//! This is the channel layer's side of the boundary with sessions: a
//! channel only knows it has an [`EventSink`] to deliver into and that a
//! delivery may be refused. The session layer implements [`Deliver`]
//! (journaling, status, its queues); tests of a channel use
//! `EventSink::for_test`.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::oneshot;

use super::ChannelEvent;

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

/// What the receiving side says about one event once it is durable:
/// `Ok(true)` taken, `Ok(false)` a duplicate (dropped), `Err` not taken.
pub type Commit = oneshot::Receiver<Result<bool, String>>;

/// What receives a session's events (the session, in purr).
#[async_trait]
pub trait Deliver: Send + Sync + std::fmt::Debug {
    /// The session the events are for.
    fn session(&self) -> &str;

    /// Queues `event`, waiting while the session's queue is full; the
    /// [`Commit`] says when it is durable.
    async fn deliver(&self, event: ChannelEvent) -> Result<Commit, SessionClosed>;
}

/// Where a channel delivers a session's events.
#[derive(Debug, Clone)]
pub struct EventSink(Arc<dyn Deliver>);

impl EventSink {
    pub fn new(receiver: Arc<dyn Deliver>) -> Self {
        EventSink(receiver)
    }

    /// The session this sink feeds.
    pub fn session(&self) -> &str {
        self.0.session()
    }

    /// Delivers `event` and waits until it is durable (or found to be a
    /// duplicate). Waits while the session's queue is full.
    pub async fn emit(&self, event: ChannelEvent) -> Result<(), EmitError> {
        durable(self.emit_pipelined(event).await?).await
    }

    /// Queues `event` without waiting for it to be durable: the returned
    /// [`Commit`] says when it is. Lets one producer keep many events in
    /// flight (a network connection acknowledging in batches).
    pub async fn emit_pipelined(&self, event: ChannelEvent) -> Result<Commit, SessionClosed> {
        self.0.deliver(event).await
    }
}

/// Waits for an event's [`Commit`]: `Ok` once it is durable (or found to
/// be a duplicate).
pub async fn durable(commit: Commit) -> Result<(), EmitError> {
    match commit.await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(EmitError::Journal(error)),
        Err(_) => Err(SessionClosed.into()),
    }
}

/// One event a test sink took, with the answer its commit gets.
#[cfg(test)]
pub(crate) type TakenEvent = (ChannelEvent, oneshot::Sender<Result<bool, String>>);

/// A [`Deliver`] for channel tests: hands every event, with its commit, to
/// the test, which plays the journal (answering, or not yet).
#[cfg(test)]
#[derive(Debug)]
struct TestReceiver {
    session: String,
    taken: tokio::sync::mpsc::UnboundedSender<TakenEvent>,
}

#[cfg(test)]
#[async_trait]
impl Deliver for TestReceiver {
    fn session(&self) -> &str {
        &self.session
    }

    async fn deliver(&self, event: ChannelEvent) -> Result<Commit, SessionClosed> {
        let (committed, commit) = oneshot::channel();
        self.taken.send((event, committed)).map_err(|_| SessionClosed)?;
        Ok(commit)
    }
}

#[cfg(test)]
impl EventSink {
    /// A sink whose events (with their commits) the test receives.
    pub(crate) fn for_test(session: &str) -> (EventSink, tokio::sync::mpsc::UnboundedReceiver<TakenEvent>) {
        let (taken, events) = tokio::sync::mpsc::unbounded_channel();
        let receiver = TestReceiver {
            session: session.to_string(),
            taken,
        };
        (EventSink::new(Arc::new(receiver)), events)
    }
}
