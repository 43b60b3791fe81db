//! One live plugin instance: a wasmtime `Store` plus the plugin's exports.
//!
//! An instance serves one plugin in one session. Each call runs under a
//! deadline (`timeout_ms`) and a memory cap (`memory_mb`). The deadline is
//! counted in epoch ticks: at every tick a running guest yields to the
//! async runtime (so a busy plugin never starves other sessions, even on
//! one thread) and, once its ticks are spent, traps. After a trap the
//! instance must not be called again: the dispatcher drops it and makes a
//! fresh one for the next event. After `max_calls` calls an instance is
//! worn out and replaced too, bounding whatever it leaks.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use wasmtime::{Store, UpdateDeadline};

use super::bindings::Plugin;
use super::bindings::exports::purr::bot::handler::{Context, Event, Flow};
use super::{EPOCH_TICK, LoadedPlugin, PluginState};

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

/// Counts live instances (for a session, or any scope that shares it).
#[derive(Debug, Clone, Default)]
pub struct InstanceGauge(Arc<AtomicUsize>);

impl InstanceGauge {
    /// How many instances counted by this gauge are alive.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Decrements its gauge when the instance is dropped.
struct GaugeGuard(InstanceGauge);

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        (self.0).0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A call ran out of time.
#[derive(Debug, thiserror::Error)]
#[error("deadline exceeded: still running after {0} ms")]
pub struct DeadlineExceeded(u64);

/// A ready instance of one plugin.
pub struct PluginInstance {
    store: Store<PluginState>,
    exports: Plugin,
    deadline_ticks: u64,
    calls: u64,
    max_calls: u64,
    _gauge: GaugeGuard,
}

impl PluginInstance {
    /// Instantiates `plugin` with `state` and runs its `init`.
    pub async fn start(plugin: &LoadedPlugin, state: PluginState, gauge: &InstanceGauge) -> Result<Self, CallError> {
        let mut store = Store::new(plugin.pre.engine(), state);
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
        gauge.0.fetch_add(1, Ordering::SeqCst);
        let guard = GaugeGuard(gauge.clone());
        let exports = plugin.pre.instantiate_async(&mut store).await.map_err(|error| {
            if error.downcast_ref::<wasmtime::PoolConcurrencyLimitError>().is_some() {
                CallError::Unavailable(format!(
                    "{error}; every instance slot is in use: raise `max_instances` in [host]"
                ))
            } else {
                CallError::Trap(error.into())
            }
        })?;
        exports
            .purr_bot_handler()
            .call_init(&mut store)
            .await
            .map_err(|e| CallError::Trap(e.into()))?
            .map_err(|e| CallError::Plugin(format!("init: {e}")))?;
        Ok(PluginInstance {
            store,
            exports,
            deadline_ticks,
            calls: 0,
            max_calls: plugin.config.max_calls,
            _gauge: guard,
        })
    }

    /// Handles one event within the plugin's deadline.
    pub async fn handle(&mut self, ctx: &Context, event: &Event) -> Result<Flow, CallError> {
        self.calls += 1;
        self.store.data_mut().log.event_id.clone_from(&ctx.event_id);
        self.store.data_mut().ticks_left = self.deadline_ticks;
        self.store.set_epoch_deadline(1);
        self.exports
            .purr_bot_handler()
            .call_handle(&mut self.store, ctx, event)
            .await
            .map_err(|e| CallError::Trap(e.into()))?
            .map_err(CallError::Plugin)
    }

    /// Whether this instance has served its `max_calls` and should be replaced.
    pub fn worn_out(&self) -> bool {
        self.calls >= self.max_calls
    }
}
