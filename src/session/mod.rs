//! One session (chat account) at run time: its queues, tasks and channel.
//!
//! ```text
//! channel -> EventSink (SessionReceiver) -> intake queue -> journal stage (intake.rs)
//!         -> session queue -> session task (task.rs) -> completion + outbox
//!         -> sender (sender.rs) -> channel
//! ```
//!
//! [`LiveSession::prepare`] is the lifecycle's `connect`: it creates the
//! bounded queues, the channel (not yet connected), the plugin chain, the
//! journal stage, the task (which first replays what a previous run left
//! unfinished, reading the journal [`REPLAY_PAGE`] rows at a time) and the
//! sender (which first delivers what the previous run left in the outbox) — so nothing the network says after
//! [`LiveSession::start`] can be missed. [`LiveSession::close`] ends the
//! task after the events already queued, dropping its instances.

mod intake;
mod queue;
mod sender;
mod status;
mod task;

use std::sync::Arc;

use anyhow::Context as _;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use queue::SessionInput;
pub use status::{QrCode, SessionStatus, State, StatusCell};

use crate::capability::kv::SessionKv;
use crate::capability::messaging::{EventSends, SendBudget};
use crate::capability::timers::SessionTimers;
use crate::channel::{self, Channel, ChannelDeps, ChannelSpec, Deliver as _, EventSink, SessionClosed};
use crate::dispatch::Chain;
use crate::observe::{ObservedChannel, SessionObserver};
use crate::plugin::{InstanceGauge, PluginHandle};
use crate::store::Store;
use queue::{Intake, SessionReceiver};
use sender::Sender;

/// What every plugin instance of a session shares: who it is and what it may reach.
#[derive(Clone)]
pub struct SessionScope {
    pub session: Arc<str>,
    pub store: Store,
    pub channel: Arc<dyn Channel>,
    pub timers: SessionTimers,
    /// The messaging calls the session's plugins may still make.
    pub send_budget: Arc<SendBudget>,
    /// The sends made while handling the current event.
    pub sends: EventSends,
    /// The kv data of the session's plugins, with the current event's writes.
    pub kv: SessionKv,
    /// A sandboxed run (`purr replay`, a shadow): its sends, kv and timer
    /// writes are never committed, and its plugins' HTTP is limited to
    /// GET and HEAD (see [`crate::rollout`]).
    pub sandboxed: bool,
}

/// How to bring one session up.
pub struct SessionSpec {
    pub name: Arc<str>,
    pub channel: ChannelSpec,
    /// The chain, in order, each plugin with this session's overrides.
    pub plugins: Vec<(Arc<PluginHandle>, Option<toml::Table>)>,
    pub queue_capacity: usize,
    pub sends_per_minute: u32,
    /// Tries of a failing event before it becomes a dead letter.
    pub event_attempts: u32,
    /// Whether inbound events are journaled.
    pub journal: bool,
    /// Where the session reports events and metrics.
    pub observer: SessionObserver,
    /// Turns true when the host's stop grace is over: the task then stops
    /// after its current event, leaving the rest in the journal.
    pub halt: tokio::sync::watch::Receiver<bool>,
}

/// A prepared or running session.
pub struct LiveSession {
    intake: mpsc::Sender<Intake>,
    receiver: Arc<SessionReceiver>,
    channel: Arc<dyn Channel>,
    timers: SessionTimers,
    status: StatusCell,
    task: JoinHandle<()>,
    sender: JoinHandle<()>,
    depth: QueueDepth,
}

/// Reads how many events wait in a session's queues (for metrics), without
/// keeping them open.
#[derive(Clone)]
pub struct QueueDepth {
    intake: mpsc::WeakSender<Intake>,
    queue: mpsc::WeakSender<SessionInput>,
}

impl QueueDepth {
    /// Events waiting in the intake and session queues now.
    pub fn get(&self) -> usize {
        let intake = self.intake.upgrade().map_or(0, |q| q.max_capacity() - q.capacity());
        let queue = self.queue.upgrade().map_or(0, |q| q.max_capacity() - q.capacity());
        intake + queue
    }
}

/// Journal rows a starting session reads at a time while it replays what
/// a previous run left unfinished: however long the backlog, the session
/// holds one page of it in memory.
pub const REPLAY_PAGE: usize = 256;

/// How long closing waits for the outbox to drain before leaving the rest
/// for the next start.
const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

impl LiveSession {
    /// `connect`: prepares the queue, channel, chain and task. Nothing goes
    /// over the wire yet.
    pub async fn prepare(
        spec: SessionSpec,
        deps: &ChannelDeps,
        status: StatusCell,
        gauge: InstanceGauge,
    ) -> anyhow::Result<Self> {
        let name = spec.name.clone();
        let store = &deps.store;
        let (intake, intake_queue) = mpsc::channel(spec.queue_capacity);
        let (queue, inbox) = mpsc::channel(spec.queue_capacity);
        let receiver = Arc::new(SessionReceiver::new(name.clone(), intake.clone(), status.clone()));
        let sink = EventSink::new(receiver.clone());
        let channel = ObservedChannel::wrap(channel::open(&spec.channel, sink, deps)?, spec.observer.clone());
        let timers = SessionTimers::load(store.clone(), name.clone())
            .await
            .context("loading the session's timers")?;
        let resume = store.session_resume(&name).await.context("reading the journal")?;
        let last_seq = resume.journal_last_seq;
        let replay = task::Replay::open(store.clone(), name.clone(), &resume, spec.halt.clone())
            .await
            .context("reading the journal")?;
        if replay.left() > 0 {
            tracing::info!(session = &*name, events = replay.left(), "replaying unfinished events");
        }
        let (sender, sender_task) = Sender::spawn(
            name.clone(),
            channel.clone(),
            status.clone(),
            store.writer().clone(),
            match resume.outbox_pending {
                0 => Vec::new(),
                _ => store.outbox_pending(&name).await?,
            },
            resume.outbox_last_seq,
        );
        let journal = intake::JournalStage {
            session: name.clone(),
            store: store.clone(),
            writer: store.writer().clone(),
            last_seq,
            enabled: spec.journal,
            memory: spec.queue_capacity,
        };
        let depth = QueueDepth {
            intake: intake.downgrade(),
            queue: queue.downgrade(),
        };
        tokio::spawn(journal.run(intake_queue, queue));
        let sends = EventSends::default();
        let kv = SessionKv::default();
        let scope = SessionScope {
            session: name.clone(),
            store: store.clone(),
            channel: channel.clone(),
            timers: timers.clone(),
            send_budget: Arc::new(SendBudget::new(spec.sends_per_minute)),
            sends: sends.clone(),
            kv: kv.clone(),
            sandboxed: false,
        };
        let task = task::SessionTask {
            name,
            store: store.clone(),
            status: status.clone(),
            timers: timers.clone(),
            chain: Chain::new(scope, spec.plugins, gauge),
            sends,
            kv,
            sender,
            event_attempts: spec.event_attempts,
            observer: spec.observer,
            halt: spec.halt,
            journal: spec.journal,
            online: false,
            id_prefix: format!("{:x}", crate::util::now_ms()),
            next_seq: 1,
        };
        let task = tokio::spawn(task.run(inbox, replay));
        Ok(LiveSession {
            intake,
            receiver,
            channel,
            timers,
            status,
            task,
            sender: sender_task,
            depth,
        })
    }

    /// `start`: connects the channel. Plugins first get `started`.
    pub async fn start(&self) -> anyhow::Result<()> {
        self.status.update(|s| {
            s.state = State::Starting;
            s.last_error = None;
        });
        self.intake
            .send(Intake::Control(SessionInput::Started))
            .await
            .map_err(|_| SessionClosed)?;
        if let Err(error) = self.channel.connect().await {
            self.status.fail(format!("{error:#}"));
            return Err(error);
        }
        Ok(())
    }

    /// Waits until every event queued so far has been handled and its
    /// sends tried on the network.
    pub async fn flush(&self) -> Result<(), SessionClosed> {
        let (done, handled) = oneshot::channel();
        self.intake
            .send(Intake::Control(SessionInput::Flush(done)))
            .await
            .map_err(|_| SessionClosed)?;
        handled.await.map_err(|_| SessionClosed)
    }

    /// The session's network connection.
    pub fn channel(&self) -> &Arc<dyn Channel> {
        &self.channel
    }

    /// A probe of the session's queue lengths.
    pub fn queue_depth(&self) -> QueueDepth {
        self.depth.clone()
    }

    /// Forgets all pending timers (for `destroy`).
    pub async fn clear_timers(&self) -> anyhow::Result<()> {
        self.timers.clear().await
    }

    /// Stops taking events, handles what is already queued (replies still
    /// go out), ends the task — dropping its instances — gives the outbox
    /// a few seconds to drain, and then closes the connection, keeping auth.
    /// Sends still pending stay in the outbox for the next start.
    pub async fn close(self) {
        self.receiver.stop_accepting();
        // The task may already be gone if it panicked; then there is nothing to drain.
        let _ = self.intake.send(Intake::Control(SessionInput::Close)).await;
        if let Err(error) = self.task.await {
            tracing::error!(session = self.receiver.session(), %error, "session task ended abnormally");
        }
        let sender = self.sender.abort_handle();
        if tokio::time::timeout(CLOSE_GRACE, self.sender).await.is_err() {
            sender.abort();
            tracing::warn!(
                session = self.receiver.session(),
                "closing with sends still in the outbox; they go out at the next start"
            );
        }
        if let Err(error) = self.channel.disconnect().await {
            tracing::warn!(session = self.receiver.session(), error = %format!("{error:#}"), "channel disconnect failed");
        }
    }
}
