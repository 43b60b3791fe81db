//! Shadow runs: a candidate version of a plugin that receives every live
//! event the plugin receives, in every session, right after the live
//! chain has handled it, and is compared with what the live plugin did.
//!
//! The candidate runs in a [`Sandbox`] per session: it never delivers and
//! never changes live data. It runs off the sessions' path: each session's
//! slot hands finished events to its own runner over a bounded queue
//! ([`QUEUE`]); when the queue is full (a slow or looping candidate) the
//! event is dropped for the shadow and counted, never waited for. Runners
//! run on one thread of their own at a lower CPU priority, so a candidate
//! that spins to its deadline on every event takes CPU the live sessions
//! do not need first; the candidate keeps its own deadline and memory cap
//! (its plugin entry's), reads the live data through a connection pool of
//! its own (a runner waiting on the busy thread never holds a connection
//! the live sessions need), and backs off after failures in a row. Its
//! failures, traps and slowness are counted, and never delay or fail the
//! live event.
//!
//! [`Shadow`] holds the candidate and the tallies (compared, identical,
//! differing, candidate errors, dropped, and the last [`RECENT`]
//! differences) shown by the API and the dashboard. Promoting swaps the
//! candidate in through the plugin's normal hot-swap path
//! ([`PluginHandle::promote`](crate::plugin::PluginHandle::promote)).
//!
//! A shadow's kv forks from the live data key by key (the first read of a
//! key reads the live value; its writes stay in the shadow, in memory: past
//! `KV_VIEW_LIMIT` keys they are forgotten and reads see live data again);
//! its timers never fire; its outbound HTTP is GET and HEAD only. Its
//! instance takes a pool slot like a live one and is dropped after the
//! entry's `idle_ms` without events; when the pool has no room, the event
//! counts as a candidate error and no live instance is asked to make way.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::mpsc;

use super::compare::{self, Difference, RunEnd};
use super::sandbox::Sandbox;
use crate::channel::Outbound;
use crate::dispatch::{crash_loop_pause, event_kind};
use crate::observe::{HttpMetrics, ShadowMetrics};
use crate::plugin::bindings::purr::bot::types::{Context, Event, Flow};
use crate::plugin::{CallError, InstanceGauge, LoadedPlugin, PluginInstance};
use crate::session::SessionScope;
use crate::store::Store;
use crate::util::now_ms;

/// Events waiting for one session's runner, at most; more are dropped.
pub const QUEUE: usize = 64;
/// Differences kept for the API, newest last.
pub const RECENT: usize = 20;

/// A candidate version of a plugin, shadowing the serving one.
pub struct Shadow {
    candidate: Arc<LoadedPlugin>,
    /// What its sandboxes read the live data through (a pool of its own,
    /// see [`Store::reader_pool`]).
    reader: Store,
    tally: Tally,
    recent: Mutex<VecDeque<ShadowDifference>>,
    metrics: ShadowMetrics,
    since_ms: u64,
}

#[derive(Default)]
struct Tally {
    compared: AtomicU64,
    identical: AtomicU64,
    differing: AtomicU64,
    candidate_errors: AtomicU64,
    dropped: AtomicU64,
}

/// What the API shows about a shadow.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ShadowStatus {
    /// The candidate's wasm file.
    #[schema(value_type = String)]
    pub path: PathBuf,
    /// SHA-256 of the candidate's file, hex.
    pub digest: String,
    /// When the shadow was attached (ms since the epoch).
    pub since_ms: u64,
    /// Events run by both the live plugin and the candidate.
    pub compared: u64,
    /// Compared events where the candidate did exactly what the live plugin did.
    pub identical: u64,
    /// Compared events where it did not.
    pub differing: u64,
    /// Compared events where the candidate failed (error, trap, deadline).
    pub candidate_errors: u64,
    /// Events not given to the candidate because its queue was full.
    pub dropped: u64,
    /// The latest differing events, newest last.
    pub recent: Vec<ShadowDifference>,
}

/// One event where the candidate differed.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ShadowDifference {
    pub session: String,
    pub event_id: String,
    /// The event's kind (`message`, `timer`, ...).
    pub kind: String,
    pub at_ms: u64,
    /// Where the candidate differed, e.g. `{"kind": "text", "index": 0, "live": "pong", "candidate": "PONG", ...}`.
    #[schema(value_type = Vec<Object>)]
    pub differences: Vec<Difference>,
}

impl Shadow {
    /// A shadow running `candidate` (loaded under the live plugin's name
    /// and limits), counted in `metrics`.
    pub fn new(candidate: Arc<LoadedPlugin>, reader: Store, metrics: ShadowMetrics) -> Self {
        Shadow {
            candidate,
            reader,
            tally: Tally::default(),
            recent: Mutex::default(),
            metrics,
            since_ms: now_ms(),
        }
    }

    /// The candidate version.
    pub fn candidate(&self) -> &Arc<LoadedPlugin> {
        &self.candidate
    }

    pub fn status(&self) -> ShadowStatus {
        let count = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        ShadowStatus {
            path: self.candidate.config.path.clone(),
            digest: hex::encode(self.candidate.digest),
            since_ms: self.since_ms,
            compared: count(&self.tally.compared),
            identical: count(&self.tally.identical),
            differing: count(&self.tally.differing),
            candidate_errors: count(&self.tally.candidate_errors),
            dropped: count(&self.tally.dropped),
            recent: self.recent.lock().expect("shadow lock").iter().cloned().collect(),
        }
    }

    fn dropped(&self) {
        self.tally.dropped.fetch_add(1, Ordering::Relaxed);
        self.metrics.dropped.inc();
    }

    fn record(&self, session: &str, event_id: &str, kind: &str, candidate: &RunEnd, differences: Vec<Difference>) {
        self.tally.compared.fetch_add(1, Ordering::Relaxed);
        if matches!(candidate, RunEnd::Failed { .. }) {
            self.tally.candidate_errors.fetch_add(1, Ordering::Relaxed);
            self.metrics.candidate_errors.inc();
        }
        if differences.is_empty() {
            self.tally.identical.fetch_add(1, Ordering::Relaxed);
            self.metrics.identical.inc();
            return;
        }
        self.tally.differing.fetch_add(1, Ordering::Relaxed);
        self.metrics.differing.inc();
        tracing::debug!(
            session,
            plugin = &*self.candidate.name,
            event = event_id,
            differences = differences.len(),
            "shadow differs"
        );
        let mut recent = self.recent.lock().expect("shadow lock");
        if recent.len() == RECENT {
            recent.pop_front();
        }
        recent.push_back(ShadowDifference {
            session: session.to_string(),
            event_id: event_id.to_string(),
            kind: kind.to_string(),
            at_ms: now_ms(),
            differences,
        });
    }
}

/// One session's feed into a shadow: cheap to clone.
#[derive(Clone)]
pub struct ShadowRunner {
    shadow: Arc<Shadow>,
    queue: mpsc::Sender<Offered>,
}

/// An event as the live plugin handled it.
struct Offered {
    ctx: Context,
    event: Event,
    live: RunEnd,
    sends: Vec<Outbound>,
}

/// An event ready for a shadow, handed over once the live event is finished.
pub struct Offer {
    runner: ShadowRunner,
    offered: Offered,
}

impl Offer {
    /// Queues the event for the candidate, or counts it dropped if the queue is full.
    pub fn hand_over(self) {
        match self.runner.queue.try_send(self.offered) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => self.runner.shadow.dropped(),
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

/// What a session's runner makes its candidate instances with.
pub struct RunnerParts {
    pub scope: SessionScope,
    pub settings: Arc<toml::Table>,
    pub gauge: InstanceGauge,
    pub http_metrics: HttpMetrics,
}

impl ShadowRunner {
    /// Starts `shadow`'s runner for the session of `parts.scope`; it ends
    /// when the last handle on it is dropped (the shadow detached, promoted
    /// or the session closed).
    pub fn spawn(shadow: Arc<Shadow>, parts: RunnerParts) -> Self {
        let (queue, events) = mpsc::channel(QUEUE);
        shadow_thread().spawn(serve(shadow.clone(), parts, events));
        ShadowRunner { shadow, queue }
    }

    /// The event `event` (as `ctx` describes it) that the live plugin
    /// answered with `result` and `sends`, ready to hand over.
    pub fn offer(&self, ctx: &Context, event: &Event, result: &Result<Flow, CallError>, sends: Vec<Outbound>) -> Offer {
        Offer {
            runner: self.clone(),
            offered: Offered {
                ctx: ctx.clone(),
                event: event.clone(),
                live: run_end(&self.shadow.candidate.name, result),
                sends,
            },
        }
    }
}

/// How a call ended, as compared.
fn run_end(plugin: &str, result: &Result<Flow, CallError>) -> RunEnd {
    match result {
        Ok(flow) => RunEnd::Handled {
            stopped: matches!(flow, Flow::Stop),
        },
        Err(error) => RunEnd::Failed {
            plugin: plugin.to_string(),
            error: error.to_string(),
        },
    }
}

/// Runs the candidate over a session's offered events, one at a time.
///
/// A candidate that keeps trapping (or running out its deadline) backs
/// off by the rule a crash-looping live plugin backs off by
/// ([`crash_loop_pause`]): the events offered meanwhile are dropped (counted), so a
/// candidate spinning on every event does not keep a core busy. It ends
/// when the session's chain lets go of it (the session closed, the shadow
/// dropped or promoted), leaving what was still queued.
async fn serve(shadow: Arc<Shadow>, parts: RunnerParts, mut events: mpsc::Receiver<Offered>) {
    let session = parts.scope.session.clone();
    let plugin = shadow.candidate.clone();
    let sandbox = match Sandbox::new(session.clone(), shadow.reader.clone(), parts.scope.channel.clone()).await {
        Ok(sandbox) => sandbox,
        Err(error) => {
            tracing::error!(session = &*session, plugin = &*plugin.name, error = %format!("{error:#}"), "shadow not started: cannot read the session's timers");
            return;
        }
    };
    let mut instance: Option<PluginInstance> = None;
    let (mut traps, mut paused_until) = (0u32, None::<Instant>);
    loop {
        let offered = match idle_ms(&plugin) {
            // Like a live instance, the candidate's is dropped after `idle_ms` without events.
            Some(idle) if instance.is_some() => match tokio::time::timeout(idle, events.recv()).await {
                Ok(offered) => offered,
                Err(_) => {
                    instance = None;
                    continue;
                }
            },
            _ => events.recv().await,
        };
        let Some(offered) = offered else { break };
        if events.is_closed() {
            break;
        }
        if paused_until.is_some_and(|until| Instant::now() < until) {
            shadow.dropped();
            continue;
        }
        sandbox.begin(&offered.ctx.event_id);
        let result = match &mut instance {
            Some(instance) => instance.handle(&offered.ctx, &offered.event).await,
            None => match PluginInstance::start(
                &plugin,
                sandbox.scope(),
                parts.settings.clone(),
                &parts.gauge,
                &parts.http_metrics,
            )
            .await
            {
                Ok(started) => instance.insert(started).handle(&offered.ctx, &offered.event).await,
                Err(error) => Err(error),
            },
        };
        if matches!(result, Err(CallError::Trap(_) | CallError::Unavailable(_)))
            || instance.as_ref().is_some_and(PluginInstance::worn_out)
        {
            instance = None;
        }
        traps = if matches!(result, Err(CallError::Trap(_))) {
            traps + 1
        } else {
            0
        };
        paused_until = crash_loop_pause(traps).map(|pause| Instant::now() + pause);
        let end = run_end(&plugin.name, &result);
        let sends = sandbox.finish(matches!(end, RunEnd::Handled { .. }));
        if sandbox.scope().kv.oversized() {
            // Bounded memory: the shadow's own kv writes are forgotten and its reads see live data again.
            sandbox.scope().kv.forget();
        }
        let differences = compare::runs((&offered.live, &offered.sends), (&end, &sends));
        shadow.record(
            &session,
            &offered.ctx.event_id,
            event_kind(&offered.event),
            &end,
            differences,
        );
    }
}

/// How long the candidate's instance may sit without events (`None`: kept).
fn idle_ms(plugin: &LoadedPlugin) -> Option<Duration> {
    let idle_ms = plugin.config.idle_ms;
    (idle_ms > 0).then(|| Duration::from_millis(idle_ms))
}

/// The thread every shadow runner runs on: a single-threaded runtime at a
/// lower CPU priority (nice 10), so the live sessions win the CPU.
fn shadow_thread() -> &'static tokio::runtime::Handle {
    static HANDLE: OnceLock<tokio::runtime::Handle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            // Runners woken from other threads (their database reads) are
            // polled at the next turn, not after 31 local polls of a
            // candidate spinning to its deadline.
            .global_queue_interval(1)
            .enable_all()
            .build()
            .expect("building the shadow runtime");
        let handle = runtime.handle().clone();
        std::thread::Builder::new()
            .name("purr-shadow".into())
            .spawn(move || {
                lower_priority();
                runtime.block_on(std::future::pending::<()>());
            })
            .expect("starting the shadow thread");
        handle
    })
}

/// Lowers the calling thread's CPU priority (Linux: per thread).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority take and return plain integers; on
    // Linux the nice value of PRIO_PROCESS with a thread id is that thread's.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 10);
    }
}
