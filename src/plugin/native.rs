//! Native handlers: Rust code compiled into the host, in a chain in place
//! of a wasm plugin (embedding purr as a library).
//!
//! A [`NativeHandler`] has the contract of a component's `handler` export:
//! [`init`](NativeHandler::init) once per fresh instance, then
//! [`handle`](NativeHandler::handle) for every event of the one session the
//! instance serves, one at a time, in arrival order, answering
//! [`Flow::Next`] or [`Flow::Stop`]. It reaches the host through
//! [`Capabilities`]: the very capability states a wasm instance's imports
//! reach (the same `Host` trait implementations, the same per-event sends
//! and kv writes committed with the event, the same quotas), so a native
//! handler and a plugin doing the same calls cost the host the same.
//!
//! Registration: a [`NativePlugin`] (a name and a function making one
//! handler per session) is given to
//! [`Supervisor::add_native`](crate::supervisor::Supervisor::add_native)
//! before the sessions using it start. Sessions name it like any plugin:
//! in the `plugins` of a [`SessionConfig`](crate::config::SessionConfig)
//! built in code, or of a session created at run time
//! ([`Supervisor::create`](crate::supervisor::Supervisor::create)).
//! (`purr.toml` validation only knows `[plugins.<name>]` files, so a
//! session in the file cannot name one.)
//!
//! To the dispatcher a native handler is a [`PluginInstance`](super::PluginInstance)
//! like any other: made on a session's first event, dropped when idle
//! (`idle_ms`, default 60 s) or after an error return of `Err` (a "trap",
//! which also counts towards back-off), so keep state that must last in kv.
//! What the sandbox enforces does not apply: no deadline, no memory cap,
//! no fuel. It is the embedder's own code, trusted like the host; a panic
//! in it is a panic of the session's task.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use super::bindings::exports::purr::bot::handler::{Context, Event, Flow};
pub use super::state::Capabilities;
use super::{Code, LoadedPlugin, Source};
use crate::config::{PluginConfig, PluginHttp, PluginQuotas};

/// Rust code serving one session in a plugin's place. `Err` of the outer
/// result is a trap (the instance is dropped; capability calls return one
/// when the host must stop the handler), `Err` of the inner one a handler
/// error (the chain ends for this event, the instance stays).
#[async_trait]
pub trait NativeHandler: Send {
    /// Called once, before the first event of this instance.
    async fn init(&mut self, caps: &mut Capabilities) -> wasmtime::Result<Result<(), String>> {
        let _ = caps;
        Ok(Ok(()))
    }

    /// Handles one event of the session.
    async fn handle(
        &mut self,
        caps: &mut Capabilities,
        ctx: &Context,
        event: &Event,
    ) -> wasmtime::Result<Result<Flow, String>>;
}

/// Makes a session's handler.
pub(super) type Factory = Arc<dyn Fn() -> Box<dyn NativeHandler> + Send + Sync>;

/// A native handler registered under a plugin name.
pub struct NativePlugin {
    name: String,
    factory: Factory,
}

impl NativePlugin {
    /// The handler `make` returns (one per session, made when the session
    /// first needs it), under the plugin name `name`.
    pub fn new<H: NativeHandler + 'static>(
        name: impl Into<String>,
        make: impl Fn() -> H + Send + Sync + 'static,
    ) -> Self {
        NativePlugin {
            name: name.into(),
            factory: Arc::new(move || Box::new(make())),
        }
    }

    /// The plugin name sessions use for it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The handler as a loaded plugin, ready for a [`PluginHandle`](super::PluginHandle).
    /// Its config is a file plugin's default one without a file: the
    /// quotas and `idle_ms` apply; `timeout_ms` and `memory_mb` do not.
    pub fn into_loaded(self) -> LoadedPlugin {
        LoadedPlugin {
            name: Arc::from(self.name),
            config: PluginConfig {
                path: PathBuf::new(),
                shadow: None,
                timeout_ms: 1000,
                memory_mb: 64,
                max_calls: u64::MAX,
                idle_ms: 60_000,
                quotas: PluginQuotas::default(),
                http: PluginHttp::default(),
                // The host's own code, as trusted as the host.
                linking_codes: true,
                settings: toml::Table::new(),
            },
            digest: [0; 32],
            source: Source::Native,
            load_time: Duration::ZERO,
            code: Code::Native(self.factory),
        }
    }
}
