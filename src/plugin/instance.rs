//! One live plugin instance: a wasmtime `Store` plus the plugin's exports.
//!
//! An instance serves one plugin in one session. Each call runs under an
//! epoch deadline (`timeout_ms`) and a memory cap (`memory_mb`). After a
//! trap the instance must not be called again: the dispatcher drops it and
//! makes a fresh one for the next event.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use wasmtime::Store;

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
    #[error("plugin trapped: {0:#}")]
    Trap(anyhow::Error),
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

/// A ready instance of one plugin.
pub struct PluginInstance {
    store: Store<PluginState>,
    exports: Plugin,
    deadline_ticks: u64,
    _gauge: GaugeGuard,
}

impl PluginInstance {
    /// Instantiates `plugin` with `state` and runs its `init`.
    pub async fn start(plugin: &LoadedPlugin, state: PluginState, gauge: &InstanceGauge) -> Result<Self, CallError> {
        let mut store = Store::new(plugin.pre.engine(), state);
        store.limiter(|state| &mut state.limits);
        let deadline_ticks = plugin.config.timeout_ms.div_ceil(EPOCH_TICK.as_millis() as u64) + 1;
        // A new store's deadline is 0: set it before instantiating or it traps at once.
        store.set_epoch_deadline(deadline_ticks);
        gauge.0.fetch_add(1, Ordering::SeqCst);
        let guard = GaugeGuard(gauge.clone());
        let exports = plugin
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| CallError::Trap(e.into()))?;
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
            _gauge: guard,
        })
    }

    /// Handles one event within the plugin's deadline.
    pub async fn handle(&mut self, ctx: &Context, event: &Event) -> Result<Flow, CallError> {
        self.store.data_mut().log.event_id.clone_from(&ctx.event_id);
        self.store.set_epoch_deadline(self.deadline_ticks);
        self.exports
            .purr_bot_handler()
            .call_handle(&mut self.store, ctx, event)
            .await
            .map_err(|e| CallError::Trap(e.into()))?
            .map_err(CallError::Plugin)
    }
}
