//! A session's status: the state machine `list` shows.
//!
//! ```text
//! stopped --start--> starting --qr--> scan-qr --paired--> connected
//!                       \________________connected_______/   |
//! connected --network lost--> disconnected --reconnected--> connected
//! any --destroy / unlinked--> logged-out --start--> starting (new QR)
//! any --error--> failed (with the reason)
//! any --disconnect / stop--> stopped (auth kept; start reconnects, no QR)
//! ```
//!
//! The status lives in a [`StatusCell`] (a `tokio::sync::watch`) that
//! outlives the session's task, so `list` and waiters see it at any time.
//! A cell made with [`StatusCell::observed`] also publishes every change on
//! the host's event bus, in the order the changes happen (a watch alone
//! would let a slow reader skip `scan-qr` between `starting` and
//! `connected`).

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::watch;

use crate::observe::StatusFeed;

/// Where a session is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Not running: never started, disconnected on request, or host stopped.
    Stopped,
    /// Connecting.
    Starting,
    /// Waiting for the account to be linked (QR or pair code shown).
    ScanQr,
    /// Online.
    Connected,
    /// Connection lost; the channel retries with backoff.
    Disconnected,
    /// Unlinked (destroyed or logged out from the phone); needs a new QR.
    LoggedOut,
    /// Could not run; see `last_error`.
    Failed,
}

impl State {
    /// The name `list` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Stopped => "stopped",
            State::Starting => "starting",
            State::ScanQr => "scan-qr",
            State::Connected => "connected",
            State::Disconnected => "disconnected",
            State::LoggedOut => "logged-out",
            State::Failed => "failed",
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The current QR code of a session waiting to be linked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct QrCode {
    pub code: String,
    pub expires_in_ms: u64,
}

/// Everything `list` knows about a session right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionStatus {
    pub state: State,
    /// The account's address once linked.
    pub jid: Option<String>,
    /// The QR to show while in `scan-qr`.
    pub qr: Option<QrCode>,
    /// The pair code to show while in `scan-qr`, if one was asked for.
    pub pair_code: Option<String>,
    /// Why the session failed or was last disconnected.
    pub last_error: Option<String>,
}

impl SessionStatus {
    fn new(jid: Option<String>) -> Self {
        SessionStatus {
            state: State::Stopped,
            jid,
            qr: None,
            pair_code: None,
            last_error: None,
        }
    }
}

/// Shared, observable status of one session.
#[derive(Clone)]
pub struct StatusCell {
    cell: Arc<watch::Sender<SessionStatus>>,
    feed: Option<StatusFeed>,
}

impl std::fmt::Debug for StatusCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("StatusCell").field(&*self.cell.borrow()).finish()
    }
}

impl StatusCell {
    /// A `stopped` session, with the account address stored from an earlier run.
    pub fn new(jid: Option<String>) -> Self {
        StatusCell {
            cell: Arc::new(watch::Sender::new(SessionStatus::new(jid))),
            feed: None,
        }
    }

    /// Like [`new`](Self::new), publishing every change to `feed`.
    pub fn observed(jid: Option<String>, feed: StatusFeed) -> Self {
        StatusCell {
            feed: Some(feed),
            ..Self::new(jid)
        }
    }

    pub fn get(&self) -> SessionStatus {
        self.cell.borrow().clone()
    }

    pub fn state(&self) -> State {
        self.cell.borrow().state
    }

    /// Moves to `state`, clearing the QR and pair code unless still linking.
    pub fn set_state(&self, state: State) {
        self.update(|s| s.state = state);
    }

    /// Applies `change`, then drops linking data that no longer applies.
    pub fn update(&self, change: impl FnOnce(&mut SessionStatus)) {
        let feed = self.feed.as_ref().filter(|feed| feed.listening());
        self.cell.send_modify(|s| {
            let before = feed.map(|_| s.clone());
            change(s);
            if s.state != State::ScanQr {
                s.qr = None;
                s.pair_code = None;
            }
            // Published under the cell's lock, so changes are seen in order.
            if let (Some(feed), Some(before)) = (feed, before)
                && before != *s
            {
                feed.publish(s);
            }
        });
    }

    /// Marks the session failed with `reason`.
    pub fn fail(&self, reason: impl Into<String>) {
        let reason = reason.into();
        self.update(|s| {
            s.state = State::Failed;
            s.last_error = Some(reason);
        });
    }

    /// A receiver to wait on status changes.
    pub fn subscribe(&self) -> watch::Receiver<SessionStatus> {
        self.cell.subscribe()
    }
}
