//! One session (chat account) at run time: its queue, task and channel.
//!
//! [`LiveSession::prepare`] is the lifecycle's `connect`: it creates the
//! bounded queue, the channel (not yet connected), the plugin chain and the
//! task that drains the queue — so nothing the network says after
//! [`LiveSession::start`] can be missed. [`LiveSession::close`] ends the
//! task after the events already queued, dropping its instances.

mod queue;
mod status;
mod task;

use std::sync::Arc;

use anyhow::Context as _;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use queue::{EventSink, SessionClosed, SessionInput};
pub use status::{QrCode, SessionStatus, State, StatusCell};

use crate::capability::messaging::SendBudget;
use crate::capability::timers::SessionTimers;
use crate::channel::{self, Channel, ChannelDeps};
use crate::config::ChannelKind;
use crate::dispatch::Chain;
use crate::plugin::{InstanceGauge, PluginHandle};
use crate::store::Store;

/// What every plugin instance of a session shares: who it is and what it may reach.
#[derive(Clone)]
pub struct SessionScope {
    pub session: Arc<str>,
    pub store: Store,
    pub channel: Arc<dyn Channel>,
    pub timers: SessionTimers,
    /// The messaging calls the session's plugins may still make.
    pub send_budget: Arc<SendBudget>,
}

/// How to bring one session up.
pub struct SessionSpec {
    pub name: Arc<str>,
    pub channel: ChannelKind,
    /// The chain, in order, each plugin with this session's overrides.
    pub plugins: Vec<(Arc<PluginHandle>, Option<toml::Table>)>,
    pub queue_capacity: usize,
    pub sends_per_minute: u32,
}

/// A prepared or running session.
pub struct LiveSession {
    queue: mpsc::Sender<SessionInput>,
    sink: EventSink,
    channel: Arc<dyn Channel>,
    timers: SessionTimers,
    status: StatusCell,
    task: JoinHandle<()>,
}

impl LiveSession {
    /// `connect`: prepares the queue, channel, chain and task. Nothing goes
    /// over the wire yet.
    pub async fn prepare(
        spec: SessionSpec,
        deps: &ChannelDeps,
        status: StatusCell,
        gauge: InstanceGauge,
    ) -> anyhow::Result<Self> {
        let (queue, inbox) = mpsc::channel(spec.queue_capacity);
        let sink = EventSink::new(spec.name.clone(), queue.clone(), status.clone());
        let channel = channel::open(spec.channel, sink.clone(), deps)?;
        let timers = SessionTimers::load(deps.store.clone(), spec.name.clone())
            .await
            .context("loading the session's timers")?;
        let scope = SessionScope {
            session: spec.name.clone(),
            store: deps.store.clone(),
            channel: channel.clone(),
            timers: timers.clone(),
            send_budget: Arc::new(SendBudget::new(spec.sends_per_minute)),
        };
        let chain = Chain::new(scope, spec.plugins, gauge);
        let task = task::SessionTask::new(spec.name, deps.store.clone(), status.clone(), timers.clone(), chain);
        let task = tokio::spawn(task.run(inbox));
        Ok(LiveSession {
            queue,
            sink,
            channel,
            timers,
            status,
            task,
        })
    }

    /// `start`: connects the channel. Plugins first get `started`.
    pub async fn start(&self) -> anyhow::Result<()> {
        self.status.update(|s| {
            s.state = State::Starting;
            s.last_error = None;
        });
        self.queue
            .send(SessionInput::Started)
            .await
            .map_err(|_| SessionClosed)?;
        if let Err(error) = self.channel.connect().await {
            self.status.fail(format!("{error:#}"));
            return Err(error);
        }
        Ok(())
    }

    /// Waits until every event queued so far has been handled.
    pub async fn flush(&self) -> Result<(), SessionClosed> {
        let (done, handled) = oneshot::channel();
        self.queue
            .send(SessionInput::Flush(done))
            .await
            .map_err(|_| SessionClosed)?;
        handled.await.map_err(|_| SessionClosed)
    }

    /// The session's network connection.
    pub fn channel(&self) -> &Arc<dyn Channel> {
        &self.channel
    }

    /// Forgets all pending timers (for `destroy`).
    pub async fn clear_timers(&self) -> anyhow::Result<()> {
        self.timers.clear().await
    }

    /// Stops taking events, handles what is already queued (replies still
    /// go out), ends the task — dropping its instances — and then closes
    /// the connection, keeping auth.
    pub async fn close(self) {
        self.sink.stop_accepting();
        // The task may already be gone if it panicked; then there is nothing to drain.
        let _ = self.queue.send(SessionInput::Close).await;
        if let Err(error) = self.task.await {
            tracing::error!(session = self.sink.session(), %error, "session task ended abnormally");
        }
        if let Err(error) = self.channel.disconnect().await {
            tracing::warn!(session = self.sink.session(), error = %format!("{error:#}"), "channel disconnect failed");
        }
    }
}
