//! The session task: drains one session's queue, one event at a time.
//!
//! Events are handled strictly in arrival order; due timers are handled
//! between events, and only while the session is online (a timer that comes
//! due while the account is offline fires once it reconnects, so the plugin
//! can still send its reply). Nothing here can fail the task: plugin failures are the
//! dispatcher's to log, storage failures are logged and the session goes on.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::queue::SessionInput;
use super::status::StatusCell;
use crate::capability::timers::SessionTimers;
use crate::channel::ChannelEvent;
use crate::dispatch::Chain;
use crate::store::{Store, TimerRow};
use crate::util::now_ms;

pub(super) struct SessionTask {
    name: Arc<str>,
    store: Store,
    status: StatusCell,
    timers: SessionTimers,
    chain: Chain,
    /// Whether the last connection event was `connected`.
    online: bool,
    /// Event ids are `<task start in ms, hex>.<sequence>`: unique per host run.
    id_prefix: String,
    next_seq: u64,
}

impl SessionTask {
    pub(super) fn new(name: Arc<str>, store: Store, status: StatusCell, timers: SessionTimers, chain: Chain) -> Self {
        SessionTask {
            name,
            store,
            status,
            timers,
            chain,
            online: false,
            id_prefix: format!("{:x}", now_ms()),
            next_seq: 1,
        }
    }

    pub(super) async fn run(mut self, mut inbox: mpsc::Receiver<SessionInput>) {
        tracing::debug!(session = &*self.name, "session task running");
        loop {
            tokio::select! {
                input = inbox.recv() => match input {
                    Some(SessionInput::Started) => {
                        let id = self.next_event_id();
                        self.chain.dispatch_started(&id, self.self_jid()).await;
                    }
                    Some(SessionInput::Event(event)) => self.handle_event(*event).await,
                    Some(SessionInput::Flush(done)) => {
                        let _ = done.send(());
                    }
                    Some(SessionInput::Close) | None => break,
                },
                timer = self.timers.next_due(), if self.online => self.handle_timer(timer).await,
            }
        }
        tracing::debug!(session = &*self.name, "session task ended");
    }

    async fn handle_event(&mut self, event: ChannelEvent) {
        let id = self.next_event_id();
        tracing::debug!(session = &*self.name, event = %id, kind = event.kind(), "event");
        self.track_connection(&event);
        self.persist_account(&event).await;
        self.chain.dispatch(&id, &event, self.self_jid()).await;
    }

    async fn handle_timer(&mut self, timer: TimerRow) {
        let id = self.next_event_id();
        tracing::debug!(session = &*self.name, event = %id, plugin = %timer.plugin, timer = %timer.id, "timer due");
        self.chain.dispatch_timer(&id, &timer, self.self_jid()).await;
        if let Err(error) = self.timers.complete(&timer).await {
            tracing::error!(session = &*self.name, timer = %timer.id, error = %format!("{error:#}"), "could not delete a fired timer; it will fire again after restart");
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
