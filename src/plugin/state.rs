//! What one plugin instance's wasmtime `Store` holds.
//!
//! Each instance serves one plugin in one session, so every capability
//! state here is already scoped to that (plugin, session) pair: a guest
//! cannot name another session or another plugin's data.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::stdio::LogStream;
use crate::capability::{config::Settings, kv::Kv, log::Log, messaging::Messaging, timers::Timers};
use crate::session::SessionScope;

/// The data of one plugin instance's store.
pub struct PluginState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(super) limits: StoreLimits,
    pub(crate) messaging: Messaging,
    pub(crate) kv: Kv,
    pub(crate) config: Settings,
    pub(crate) timers: Timers,
    pub(crate) log: Log,
}

impl PluginState {
    /// State for `plugin` serving the session of `scope`, capped at `memory_bytes`.
    pub fn new(scope: &SessionScope, plugin: &Arc<str>, settings: Arc<toml::Table>, memory_bytes: usize) -> Self {
        // Nothing ambient: no preopened dirs, no env, no args, no sockets;
        // stdout and stderr become log records.
        let wasi = WasiCtx::builder()
            .stdout(LogStream::new(&scope.session, plugin, "stdout"))
            .stderr(LogStream::new(&scope.session, plugin, "stderr"))
            .build();
        PluginState {
            wasi,
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(memory_bytes)
                .trap_on_grow_failure(true)
                .build(),
            messaging: Messaging::new(scope.channel.clone()),
            kv: Kv::new(scope.store.clone(), plugin.clone(), scope.session.clone()),
            config: Settings::new(settings),
            timers: Timers::new(scope.timers.clone(), plugin.clone()),
            log: Log::new(scope.session.clone(), plugin.clone()),
        }
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
