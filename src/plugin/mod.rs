//! The plugin host: wasmtime engine, compiled plugins, live instances.
//!
//! One [`PluginHost`] per process holds the `Engine` (component model,
//! epoch interruption driven by a background ticker) and the `Linker`
//! carrying WASI preview 2 — with nothing ambient granted — and purr's
//! capabilities. [`PluginHost::load`] compiles a component and links it
//! against the `purr:bot/plugin` world once ([`LoadedPlugin`]); sessions
//! then make cheap [`PluginInstance`]s from it.

pub mod bindings;
mod instance;
mod state;
mod stdio;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine};

pub use instance::{CallError, InstanceGauge, PluginInstance};
pub use state::PluginState;

use crate::config::PluginConfig;

/// How often the engine's epoch advances; call deadlines are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The process-wide engine and linker.
#[derive(Clone)]
pub struct PluginHost {
    engine: Engine,
    linker: Arc<Linker<PluginState>>,
}

impl PluginHost {
    /// Builds the engine, links WASI and the capabilities, and starts the epoch ticker.
    pub fn new() -> anyhow::Result<Self> {
        let mut config = Config::new();
        config.wasm_component_model(true).epoch_interruption(true);
        let engine = Engine::new(&config)
            .map_err(anyhow::Error::from)
            .context("creating the wasmtime engine")?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(anyhow::Error::from)
            .context("linking WASI")?;
        crate::capability::add_to_linker(&mut linker).context("linking purr capabilities")?;
        spawn_epoch_ticker(&engine);
        Ok(PluginHost {
            engine,
            linker: Arc::new(linker),
        })
    }

    /// Compiles the component at `config.path` and links it against the
    /// plugin world. CPU-heavy: call from a blocking context.
    pub fn load(&self, name: &str, config: &PluginConfig) -> anyhow::Result<LoadedPlugin> {
        let component = compile(&self.engine, &config.path)
            .with_context(|| format!("plugin {name}: compiling {}", config.path.display()))?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .and_then(bindings::PluginPre::new)
            .map_err(anyhow::Error::from)
            .with_context(|| {
                format!(
                    "plugin {name}: {} does not fit the purr:bot/plugin world",
                    config.path.display()
                )
            })?;
        Ok(LoadedPlugin {
            name: Arc::from(name),
            config: config.clone(),
            pre,
        })
    }

    /// [`load`](Self::load) on a blocking thread.
    pub async fn load_async(&self, name: &str, config: &PluginConfig) -> anyhow::Result<Arc<LoadedPlugin>> {
        let (host, name, config) = (self.clone(), name.to_string(), config.clone());
        let started = std::time::Instant::now();
        tracing::info!(plugin = %name, path = %config.path.display(), "compiling plugin");
        let loaded = tokio::task::spawn_blocking(move || host.load(&name, &config)).await??;
        tracing::info!(plugin = %loaded.name, elapsed_ms = started.elapsed().as_millis() as u64, "plugin ready");
        Ok(Arc::new(loaded))
    }
}

fn compile(engine: &Engine, path: &Path) -> anyhow::Result<Component> {
    let bytes = std::fs::read(path).context("reading the file")?;
    Ok(Component::new(engine, &bytes)?)
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until the engine is dropped.
fn spawn_epoch_ticker(engine: &Engine) {
    let engine = engine.weak();
    std::thread::Builder::new()
        .name("purr-epoch".into())
        .spawn(move || {
            while let Some(engine) = engine.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawning the epoch ticker thread");
}

/// A compiled plugin, linked and ready to instantiate.
pub struct LoadedPlugin {
    pub name: Arc<str>,
    pub config: PluginConfig,
    pre: bindings::PluginPre<PluginState>,
}
