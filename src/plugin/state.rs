//! What one plugin instance's wasmtime `Store` holds.
//!
//! Each instance serves one plugin in one session, so every capability
//! state here is already scoped to that (plugin, session) pair: a guest
//! cannot name another session or another plugin's data. A native handler
//! (see [`native`](super::native)) gets the same capability states as
//! [`Capabilities`], built by the same code.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::LoadedPlugin;
use super::stdio::LogStream;
use crate::capability::{config::Settings, http::OutboundHttp, kv::Kv, log::Log, messaging::Messaging, timers::Timers};
use crate::observe::HttpMetrics;
use crate::session::SessionScope;

/// The host side of every capability of one plugin in one session: what a
/// wasm instance's imports reach through [`PluginState`], and what a
/// native handler calls directly, through the same `Host` traits
/// (`purr::plugin::bindings::purr::bot::{messaging, kv, config, timers,
/// log}::Host`).
pub struct Capabilities {
    pub messaging: Messaging,
    pub kv: Kv,
    pub config: Settings,
    pub timers: Timers,
    pub log: Log,
}

impl Capabilities {
    /// The capabilities of `plugin` serving the session of `scope`, with its quotas.
    pub(super) fn new(scope: &SessionScope, plugin: &LoadedPlugin, settings: Arc<toml::Table>) -> Self {
        let name = &plugin.name;
        let quotas = Arc::new(plugin.config.quotas);
        Capabilities {
            messaging: Messaging::new(
                scope.channel.clone(),
                scope.send_budget.clone(),
                scope.sends.clone(),
                scope.session.clone(),
                name.clone(),
                &quotas,
            ),
            kv: Kv::new(
                scope.store.clone(),
                scope.kv.clone(),
                name.clone(),
                scope.session.clone(),
                quotas.clone(),
            ),
            config: Settings::new(settings),
            timers: Timers::new(scope.timers.clone(), name.clone(), quotas.clone()),
            log: Log::new(
                scope.session.clone(),
                name.clone(),
                scope.send_budget.log_budget(name, &quotas),
            ),
        }
    }
}

/// The data of one plugin instance's store.
pub struct PluginState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(super) limits: StoreLimits,
    /// Epoch ticks the current call may still run (see `instance`).
    pub(super) ticks_left: u64,
    pub(crate) messaging: Messaging,
    pub(crate) kv: Kv,
    pub(crate) config: Settings,
    pub(crate) timers: Timers,
    pub(crate) log: Log,
    pub(crate) http: OutboundHttp,
}

impl PluginState {
    /// State for `plugin` serving the session of `scope`, with its limits
    /// and quotas; its HTTP requests are counted in `http_metrics`.
    pub fn new(
        scope: &SessionScope,
        plugin: &LoadedPlugin,
        settings: Arc<toml::Table>,
        http_metrics: HttpMetrics,
    ) -> Self {
        let name = &plugin.name;
        let memory_bytes = (plugin.config.memory_mb as usize) << 20;
        let Capabilities {
            messaging,
            kv,
            config,
            timers,
            log,
        } = Capabilities::new(scope, plugin, settings);
        // Nothing ambient: no preopened dirs, no env, no args, no sockets;
        // stdout and stderr become log records, on the `log` import's allowance.
        let wasi = WasiCtx::builder()
            .stdout(LogStream::new(&scope.session, name, "stdout", log.budget()))
            .stderr(LogStream::new(&scope.session, name, "stderr", log.budget()))
            .build();
        PluginState {
            wasi,
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(memory_bytes)
                .trap_on_grow_failure(true)
                .build(),
            ticks_left: 0,
            messaging,
            kv,
            config,
            timers,
            log,
            http: OutboundHttp::new(
                scope.session.clone(),
                name.clone(),
                &plugin.config.http,
                http_metrics,
                scope.sandboxed,
            ),
        }
    }

    /// The HTTP capability and the resource table it keeps its requests in.
    pub(crate) fn http_and_table(&mut self) -> (&mut OutboundHttp, &mut ResourceTable) {
        (&mut self.http, &mut self.table)
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
