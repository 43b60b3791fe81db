//! The plugin host: wasmtime engine, compiled plugins, live instances.
//!
//! One [`PluginHost`] per process holds the `Engine` (component model,
//! pooling allocator sized from the config, epoch interruption driven by a
//! background ticker), the on-disk [`CompileCache`] and the `Linker`
//! carrying WASI preview 2 — with nothing ambient granted — and purr's
//! capabilities. [`PluginHost::load`] compiles (or loads from the cache) a
//! component and links it against the `purr:bot/plugin` world once
//! ([`LoadedPlugin`]). A [`PluginHandle`] holds the version of a plugin
//! that currently serves and is what hot reload swaps; sessions make cheap
//! [`PluginInstance`]s from it.
//!
//! A plugin's code is a wasm component or, for hosts that embed purr as a
//! library, a [`native`] handler: Rust code compiled into the host that
//! takes a plugin's place in chains, with the same capabilities.

pub mod bindings;
mod cache;
mod handle;
mod instance;
pub mod native;
mod state;
mod stdio;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use wasmtime::component::Linker;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ProfilingStrategy};

pub use cache::{CompileCache, Source};
pub use handle::{PluginHandle, PluginHealth, PluginStatus};
pub use instance::{CallError, InstanceGauge, PluginInstance};
pub use state::{Capabilities, PluginState};

use crate::config::PluginConfig;

/// How often the engine's epoch advances; call deadlines are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Set to `1`, the engine writes `/tmp/perf-<pid>.map`, naming the machine
/// code of every plugin it compiles or loads, so that `perf` shows a
/// plugin's own functions (`wasm[1]::function[4035]::_PyEval_EvalFrameDefault`)
/// instead of bare addresses: how to find where a plugin's time goes.
pub const PERF_MAP_ENV: &str = "PURR_WASM_PERFMAP";

/// What the engine is sized for.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Plugin instances alive at once (the pooling allocator's slots).
    pub instances: u32,
    /// The largest memory any instance may grow to, in MiB (a pool slot).
    pub memory_mb: u64,
    /// Where compiled plugins are cached; `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
    /// Write a perf map of the plugins' code ([`PERF_MAP_ENV`]).
    pub perf_map: bool,
}

impl EngineSettings {
    /// Settings for `config`'s plugins; `cache` stores compiled code in its data dir.
    pub fn for_config(config: &crate::config::Config, cache: bool) -> Self {
        EngineSettings {
            instances: config.instance_capacity(),
            memory_mb: config.max_memory_mb(),
            cache_dir: cache.then(|| config.host.data_dir.join("cache")),
            perf_map: std::env::var_os(PERF_MAP_ENV).is_some_and(|value| value == "1"),
        }
    }
}

/// The process-wide engine and linker.
#[derive(Clone)]
pub struct PluginHost {
    engine: Engine,
    linker: Arc<Linker<PluginState>>,
    cache: Option<CompileCache>,
    settings: Arc<EngineSettings>,
    /// Signals that instances ran short (see [`InstanceGauge`]).
    shortage: Arc<instance::Shortage>,
}

impl PluginHost {
    /// Builds the engine, links WASI and the capabilities, and starts the epoch ticker.
    pub fn new(settings: EngineSettings) -> anyhow::Result<Self> {
        let engine = Engine::new(&engine_config(&settings))
            .map_err(anyhow::Error::from)
            .with_context(|| {
                format!(
                    "creating the wasmtime engine ({} instance slots; lower `max_instances` in [host], \
                     or raise vm.max_map_count)",
                    settings.instances
                )
            })?;
        if settings.perf_map {
            let map = format!("/tmp/perf-{}.map", std::process::id());
            tracing::info!(%map, "writing a perf map of the plugins' code ({PERF_MAP_ENV}=1)");
        }
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(anyhow::Error::from)
            .context("linking WASI")?;
        crate::capability::add_to_linker(&mut linker).context("linking purr capabilities")?;
        spawn_epoch_ticker(&engine);
        let cache = settings
            .cache_dir
            .clone()
            .map(|dir| CompileCache::open(dir, &engine))
            .transpose()
            .context("opening the compile cache")?;
        Ok(PluginHost {
            engine,
            linker: Arc::new(linker),
            cache,
            settings: Arc::new(settings),
            shortage: Arc::default(),
        })
    }

    /// A gauge for one more session's instances.
    pub fn gauge(&self) -> InstanceGauge {
        InstanceGauge::sharing(self.shortage.clone())
    }

    /// Compiles the component at `config.path` (or loads it from the
    /// cache) and links it against the plugin world. CPU-heavy: call from
    /// a blocking context.
    pub fn load(&self, name: &str, config: &PluginConfig) -> anyhow::Result<LoadedPlugin> {
        let started = Instant::now();
        if config.memory_mb > self.settings.memory_mb {
            anyhow::bail!(
                "plugin {name}: memory_mb = {} is more than the {} MiB this host was started with; restart purr to raise it",
                config.memory_mb,
                self.settings.memory_mb
            );
        }
        let wasm =
            std::fs::read(&config.path).with_context(|| format!("plugin {name}: reading {}", config.path.display()))?;
        let digest: [u8; 32] = Sha256::digest(&wasm).into();
        let (component, source) = match &self.cache {
            Some(cache) => cache.load(&self.engine, &wasm, &digest),
            None => wasmtime::component::Component::new(&self.engine, &wasm)
                .map(|c| (c, Source::Compiled))
                .map_err(anyhow::Error::from),
        }
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
            digest,
            source,
            load_time: started.elapsed(),
            code: Code::Wasm(pre),
        })
    }

    /// [`load`](Self::load) on a blocking thread, with progress in the logs.
    pub async fn load_async(&self, name: &str, config: &PluginConfig) -> anyhow::Result<Arc<LoadedPlugin>> {
        let (host, name, config) = (self.clone(), name.to_string(), config.clone());
        tracing::info!(plugin = %name, path = %config.path.display(), "loading plugin");
        let loaded = tokio::task::spawn_blocking(move || host.load(&name, &config)).await??;
        tracing::info!(
            plugin = %loaded.name,
            source = ?loaded.source,
            elapsed_ms = loaded.load_time.as_millis() as u64,
            "plugin ready"
        );
        Ok(Arc::new(loaded))
    }
}

/// Plugin calls in progress at once, at most (the pool's fiber stacks).
const MAX_CALLS_IN_PROGRESS: u32 = 4096;

/// Engine settings: component model, epoch interruption, and a pooling
/// allocator whose memory slots are the size of the largest memory cap.
fn engine_config(settings: &EngineSettings) -> Config {
    let slot_bytes = settings.memory_mb << 20;
    let instances = settings.instances;
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(instances)
        // A wasip2 component has several core instances and tables
        // (the program, its WASI adapter shims); leave room for them.
        .total_core_instances(instances.saturating_mul(8))
        .total_tables(instances.saturating_mul(8))
        .max_tables_per_module(8)
        .total_memories(instances.saturating_mul(2))
        .max_memories_per_module(2)
        // Every call in progress (running or suspended at an await) runs on
        // a fiber stack of its own; a session has at most one. Each stack's
        // guard page is a memory mapping of its own, made up front, so the
        // stacks are capped well below the process's mapping limit.
        .total_stacks(instances.min(MAX_CALLS_IN_PROGRESS))
        .max_memory_size(slot_bytes as usize)
        .max_unused_warm_slots(instances.min(64));
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .memory_reservation(slot_bytes)
        .memory_reservation_for_growth(0)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    if settings.perf_map {
        config.profiler(ProfilingStrategy::PerfMap);
    }
    config
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

/// A compiled plugin, linked and ready to instantiate (or a native
/// handler, see [`native::NativePlugin::into_loaded`]).
pub struct LoadedPlugin {
    pub name: Arc<str>,
    pub config: PluginConfig,
    /// SHA-256 of the wasm file this was built from (zeros for a native handler).
    pub digest: [u8; 32],
    /// Whether this came from the compile cache.
    pub source: Source,
    /// How long loading took (reading, compiling or deserializing, linking).
    pub load_time: Duration,
    code: Code,
}

impl LoadedPlugin {
    /// Whether this is a native handler (no file, nothing to reload).
    pub fn is_native(&self) -> bool {
        matches!(self.code, Code::Native(_))
    }
}

/// What runs a plugin's instances.
enum Code {
    /// A component, linked against the plugin world.
    Wasm(bindings::PluginPre<PluginState>),
    /// Rust code in the host.
    Native(native::Factory),
}

/// Reads and hashes `path`, to tell a real change from a touch.
pub fn file_digest(path: &Path) -> std::io::Result<[u8; 32]> {
    Ok(Sha256::digest(std::fs::read(path)?).into())
}
