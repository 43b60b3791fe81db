//! One live plugin instance: a wasmtime `Store` plus the plugin's exports.
//!
//! An instance serves one plugin in one session. Each call runs under a
//! deadline (`timeout_ms`) and a memory cap (`memory_mb`). The deadline is
//! counted in epoch ticks while the guest runs: at every tick a running
//! guest yields to the async runtime (so a busy plugin never starves other
//! sessions, even on one thread) and, once its ticks are spent, traps. A
//! guest that waits in a host call instead (an HTTP response) runs no
//! ticks, so the call also has a wall-clock deadline of the same length;
//! past it the call is abandoned and the instance counts as trapped. After a trap the
//! instance must not be called again: the dispatcher drops it and makes a
//! fresh one for the next event. After `max_calls` calls an instance is
//! worn out and replaced too, bounding whatever it leaks.
//!
//! The instance of a [`native`](super::native) handler is the handler with
//! its [`Capabilities`]; the dispatcher treats both kinds alike.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use std::time::Duration;

use tokio::sync::Notify;
use wasmtime::{Store, UpdateDeadline};

use super::bindings::exports::purr::bot::handler::{Context, Event, Flow};
use super::bindings::{Plugin, PluginPre};
use super::native::NativeHandler;
use super::{Capabilities, Code, EPOCH_TICK, LoadedPlugin, PluginState};
use crate::observe::HttpMetrics;
use crate::session::SessionScope;

/// Why a call did not produce a flow.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The plugin returned an error; the instance is still usable.
    #[error("plugin returned an error: {0}")]
    Plugin(String),
    /// The guest trapped (or ran past its deadline); the instance is dead.
    /// Shows the cause; the wasm backtrace is in the error's chain.
    #[error("plugin trapped: {}", .0.root_cause())]
    Trap(anyhow::Error),
    /// The plugin keeps trapping; it is not run again until the pause ends.
    #[error("plugin is backing off after {traps} traps in a row (next try in {retry_in:.1?})")]
    BackingOff { traps: u32, retry_in: std::time::Duration },
    /// No instance could be made for reasons that are not the plugin's
    /// fault (every pool slot is taken).
    #[error("no instance available: {0}")]
    Unavailable(String),
}

/// Counts a session's live instances, and carries the host-wide signal
/// that instances ran short: a session that cannot get one reports it, and
/// every other session gives its instances back (they are a cache) — at
/// once if it is idle, else after its current event.
#[derive(Debug, Clone, Default)]
pub struct InstanceGauge {
    live: Arc<AtomicUsize>,
    shortage: Arc<Shortage>,
    /// The shortages this session reported itself.
    own_reports: Arc<AtomicU64>,
}

/// The host-wide "instances ran short" signal.
#[derive(Debug, Default)]
pub(super) struct Shortage {
    /// Shortages reported so far.
    reported: AtomicU64,
    /// Wakes idle sessions.
    notify: Notify,
}

impl InstanceGauge {
    /// A gauge of its own that shares `shortage` with the other sessions.
    pub(super) fn sharing(shortage: Arc<Shortage>) -> Self {
        InstanceGauge {
            live: Arc::default(),
            shortage,
            own_reports: Arc::default(),
        }
    }

    /// How many instances counted by this gauge are alive.
    pub fn get(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    /// Asks every other session to drop its instances.
    pub fn report_shortage(&self) {
        // Own reports first: `shortages` never counts one of them as another's.
        self.own_reports.fetch_add(1, Ordering::SeqCst);
        self.shortage.reported.fetch_add(1, Ordering::SeqCst);
        self.shortage.notify.notify_waiters();
    }

    /// How many shortages other sessions reported so far, as a count that
    /// changes only with their reports (a session compares it with the one
    /// it last acted on; its own reports — one per retry while it waits —
    /// are not a reason to give back the instance it was waiting for).
    pub fn shortages(&self) -> u64 {
        let reported = self.shortage.reported.load(Ordering::SeqCst);
        reported.saturating_sub(self.own_reports.load(Ordering::SeqCst))
    }

    /// Resolves when some session reports a shortage.
    pub async fn shortage(&self) {
        self.shortage.notify.notified().await;
    }
}

/// Decrements its gauge when the instance is dropped.
struct GaugeGuard(InstanceGauge);

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A call ran out of time.
#[derive(Debug, thiserror::Error)]
#[error("deadline exceeded: still running after {0} ms")]
pub struct DeadlineExceeded(u64);

/// A ready instance of one plugin.
pub struct PluginInstance {
    live: Live,
    calls: u64,
    max_calls: u64,
}

/// What serves the calls.
enum Live {
    Wasm {
        store: Store<PluginState>,
        exports: Plugin,
        deadline_ticks: u64,
        timeout_ms: u64,
        _gauge: GaugeGuard,
    },
    Native {
        handler: Box<dyn NativeHandler>,
        caps: Box<Capabilities>,
    },
}

impl PluginInstance {
    /// Makes an instance of `plugin` for the session of `scope` (with the
    /// plugin's `settings` for it) and runs its `init`. A wasm instance
    /// counts in `gauge` and its HTTP requests in `http_metrics`; a native
    /// one takes no pool slot and makes no wasi:http requests.
    pub async fn start(
        plugin: &LoadedPlugin,
        scope: &SessionScope,
        settings: Arc<toml::Table>,
        gauge: &InstanceGauge,
        http_metrics: &HttpMetrics,
    ) -> Result<Self, CallError> {
        let live = match &plugin.code {
            Code::Wasm(pre) => {
                let state = PluginState::new(scope, plugin, settings, http_metrics.clone());
                Self::start_wasm(plugin, pre, state, gauge).await?
            }
            Code::Native(factory) => {
                let mut caps = Capabilities::new(scope, plugin, settings);
                let mut handler = factory();
                handler
                    .init(&mut caps)
                    .await
                    .map_err(|e| CallError::Trap(e.into()))?
                    .map_err(|e| CallError::Plugin(format!("init: {e}")))?;
                Live::Native {
                    handler,
                    caps: Box::new(caps),
                }
            }
        };
        Ok(PluginInstance {
            live,
            calls: 0,
            max_calls: plugin.config.max_calls,
        })
    }

    /// Instantiates the component `pre` of `plugin` with `state` and runs its `init`.
    async fn start_wasm(
        plugin: &LoadedPlugin,
        pre: &PluginPre<PluginState>,
        state: PluginState,
        gauge: &InstanceGauge,
    ) -> Result<Live, CallError> {
        let mut store = Store::new(pre.engine(), state);
        store.limiter(|state| &mut state.limits);
        let timeout_ms = plugin.config.timeout_ms;
        let deadline_ticks = timeout_ms.div_ceil(EPOCH_TICK.as_millis() as u64) + 1;
        store.epoch_deadline_callback(move |mut store| {
            let ticks_left = &mut store.data_mut().ticks_left;
            *ticks_left = ticks_left.saturating_sub(1);
            if *ticks_left == 0 {
                return Err(DeadlineExceeded(timeout_ms).into());
            }
            Ok(UpdateDeadline::Yield(1))
        });
        // A new store's deadline is 0: set it before instantiating or it traps at once.
        store.data_mut().ticks_left = deadline_ticks;
        store.set_epoch_deadline(1);
        gauge.live.fetch_add(1, Ordering::SeqCst);
        let guard = GaugeGuard(gauge.clone());
        let exports = pre
            .instantiate_async(&mut store)
            .await
            .map_err(|error| host_shortage(&error).unwrap_or_else(|| CallError::Trap(error.into())))?;
        within(timeout_ms, exports.purr_bot_handler().call_init(&mut store))
            .await?
            .map_err(|e| CallError::Trap(e.into()))?
            .map_err(|e| CallError::Plugin(format!("init: {e}")))?;
        Ok(Live::Wasm {
            store,
            exports,
            deadline_ticks,
            timeout_ms,
            _gauge: guard,
        })
    }

    /// Handles one event (a wasm instance within the plugin's deadline).
    pub async fn handle(&mut self, ctx: &Context, event: &Event) -> Result<Flow, CallError> {
        self.calls += 1;
        let flow = match &mut self.live {
            Live::Wasm {
                store,
                exports,
                deadline_ticks,
                timeout_ms,
                ..
            } => {
                let state = store.data_mut();
                state.log.event_id.clone_from(&ctx.event_id);
                state.http.set_event(&ctx.event_id);
                state.ticks_left = *deadline_ticks;
                store.set_epoch_deadline(1);
                within(
                    *timeout_ms,
                    exports.purr_bot_handler().call_handle(&mut *store, ctx, event),
                )
                .await?
                .map_err(|error| host_shortage(&error).unwrap_or_else(|| CallError::Trap(error.into())))?
            }
            Live::Native { handler, caps } => {
                caps.log.event_id.clone_from(&ctx.event_id);
                handler
                    .handle(caps, ctx, event)
                    .await
                    .map_err(|e| CallError::Trap(e.into()))?
            }
        };
        flow.map_err(CallError::Plugin)
    }

    /// Whether this instance has served its `max_calls` and should be replaced.
    pub fn worn_out(&self) -> bool {
        self.calls >= self.max_calls
    }
}

/// `call` cut at `timeout_ms` of wall-clock time: a guest waiting in a host
/// call (an HTTP response) runs no epoch ticks. Past the deadline the call
/// is dropped mid-way, so its instance must not be used again (a trap).
async fn within<T>(timeout_ms: u64, call: impl Future<Output = T>) -> Result<T, CallError> {
    tokio::time::timeout(Duration::from_millis(timeout_ms), call)
        .await
        .map_err(|_| CallError::Trap(DeadlineExceeded(timeout_ms).into()))
}

/// The error if it says the host ran short of room for instances or calls
/// (pool slots, fiber stacks, memory mappings): not the plugin's fault.
fn host_shortage(error: &wasmtime::Error) -> Option<CallError> {
    if error.downcast_ref::<wasmtime::PoolConcurrencyLimitError>().is_some() {
        return Some(CallError::Unavailable(format!(
            "{error}; every instance slot is in use: raise `max_instances` in [host]"
        )));
    }
    // ENOMEM, from a std::io::Error or from the rustix error wasmtime's
    // mmap/mprotect calls return (shown the same way).
    let out_of_memory = error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::raw_os_error)
            == Some(12)
            || cause.to_string().ends_with("(os error 12)")
    });
    out_of_memory.then(|| {
        CallError::Unavailable(format!(
            "{error}: the host is out of memory or memory mappings for instances \
             (lower `idle_ms` so idle sessions give theirs back, or raise vm.max_map_count)"
        ))
    })
}
