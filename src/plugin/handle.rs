//! The serving version of one plugin, and its health.
//!
//! A [`PluginHandle`] is shared by every session whose chain names the
//! plugin. Hot reload [`swap`](PluginHandle::swap)s in a new
//! [`LoadedPlugin`] and bumps the generation; each session notices the
//! new generation at its next event boundary and makes its instance from
//! the new version, so the event in flight always finishes on the code it
//! started with. A reload that fails leaves the serving version alone and
//! is recorded here until the desired version (the config's entry and the
//! file at its path) loads or serves again, as are crash loops reported by
//! the sessions. Each
//! change (reload, failed reload, trap) is counted in the metrics and
//! published on the host's event bus through the handle's
//! [`PluginObserver`].

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use serde::Serialize;

use super::{LoadedPlugin, Source};
use crate::observe::{PluginMetrics, PluginObserver};
use crate::rollout::shadow::{Shadow, ShadowStatus};
use crate::store::Store;

/// Whether a plugin is serving normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PluginHealth {
    Ready,
    /// Crash-looping in at least one session (backing off there).
    Failed,
}

/// What `list`/the API show about a plugin.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PluginStatus {
    pub name: String,
    #[schema(value_type = String)]
    pub path: PathBuf,
    /// SHA-256 of the serving version's wasm file, hex.
    pub digest: String,
    /// 1 for the version loaded at start, +1 per successful reload.
    pub generation: u64,
    /// Whether the serving version was compiled or came from the cache.
    pub source: Source,
    pub health: PluginHealth,
    /// The most recent trap, with its session.
    pub last_error: Option<String>,
    /// Why the desired version (the config's entry, the file at its path)
    /// could not be loaded; the previous version serves meanwhile. Cleared
    /// once the desired version serves.
    pub reload_error: Option<String>,
    /// Traps since the host started, all sessions together.
    pub traps: u64,
    /// The candidate version shadowing this one, and how it compares.
    pub shadow: Option<ShadowStatus>,
}

/// Consecutive traps in one session after which a plugin counts as crash-looping.
pub const CRASH_LOOP_TRAPS: u32 = 3;

#[derive(Default)]
struct Health {
    /// Sessions where the plugin is crash-looping.
    crash_looping: BTreeSet<String>,
    last_trap: Option<String>,
    reload_error: Option<String>,
}

/// The currently serving version of a plugin.
pub struct PluginHandle {
    current: RwLock<Arc<LoadedPlugin>>,
    generation: AtomicU64,
    traps: AtomicU64,
    health: Mutex<Health>,
    observer: PluginObserver,
    shadow: RwLock<Option<Arc<Shadow>>>,
    /// Changes every time a shadow is attached or dropped.
    shadow_generation: AtomicU64,
}

impl PluginHandle {
    pub fn new(plugin: Arc<LoadedPlugin>, observer: PluginObserver) -> Self {
        PluginHandle {
            current: RwLock::new(plugin),
            generation: AtomicU64::new(1),
            traps: AtomicU64::new(0),
            health: Mutex::new(Health::default()),
            observer,
            shadow: RwLock::new(None),
            shadow_generation: AtomicU64::new(0),
        }
    }

    /// The candidate shadowing the serving version, if any.
    pub fn shadow(&self) -> Option<Arc<Shadow>> {
        self.shadow.read().expect("shadow lock").clone()
    }

    /// Changes every time a shadow is attached, replaced or dropped.
    pub fn shadow_generation(&self) -> u64 {
        self.shadow_generation.load(Ordering::Acquire)
    }

    /// Runs `candidate` as this plugin's shadow from every session's next
    /// event on (replacing any shadow it had), with fresh tallies; its
    /// sandboxes read the live data through `reader`.
    pub fn attach_shadow(&self, candidate: Arc<LoadedPlugin>, reader: Store) {
        let shadow = Shadow::new(candidate, reader, self.observer.metrics.shadow());
        self.set_shadow(Some(Arc::new(shadow)));
    }

    /// Drops the shadow; returns whether there was one.
    pub fn detach_shadow(&self) -> bool {
        self.shadow().is_some() && self.set_shadow(None).is_some()
    }

    /// Makes the shadow's candidate the serving version (the normal swap:
    /// every session moves to it at its next event) and drops the shadow;
    /// `None` if there was no shadow.
    pub fn promote(&self) -> Option<Arc<LoadedPlugin>> {
        let shadow = self.set_shadow(None)?;
        let candidate = shadow.candidate().clone();
        self.swap(candidate.clone());
        Some(candidate)
    }

    fn set_shadow(&self, shadow: Option<Arc<Shadow>>) -> Option<Arc<Shadow>> {
        let old = std::mem::replace(&mut *self.shadow.write().expect("shadow lock"), shadow);
        self.shadow_generation.fetch_add(1, Ordering::AcqRel);
        self.observer.changed(|| self.status());
        old
    }

    /// The plugin's metrics (the dispatcher times calls with them).
    pub fn metrics(&self) -> &PluginMetrics {
        &self.observer.metrics
    }

    /// The version that serves now.
    pub fn current(&self) -> Arc<LoadedPlugin> {
        self.current.read().expect("plugin lock").clone()
    }

    /// Changes every time a new version is swapped in.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Makes `plugin` the serving version from every session's next event on.
    pub fn swap(&self, plugin: Arc<LoadedPlugin>) {
        *self.current.write().expect("plugin lock") = plugin;
        self.generation.fetch_add(1, Ordering::AcqRel);
        {
            let mut health = self.lock_health();
            health.reload_error = None;
            health.crash_looping.clear();
            health.last_trap = None;
        }
        self.observer.metrics.reloads_ok.inc();
        self.observer.changed(|| self.status());
    }

    /// A new file could not be loaded; the current version keeps serving.
    pub fn reload_failed(&self, error: String) {
        self.lock_health().reload_error = Some(error);
        self.observer.metrics.reloads_failed.inc();
        self.observer.changed(|| self.status());
    }

    /// The serving version is the desired one (e.g. the config went back to
    /// it, or its file was restored): an earlier reload error is moot.
    pub fn up_to_date(&self) {
        if self.lock_health().reload_error.take().is_some() {
            self.observer.changed(|| self.status());
        }
    }

    /// The plugin trapped in `session`, `consecutive` times in a row.
    pub fn trapped(&self, session: &str, consecutive: u32, error: String) {
        self.traps.fetch_add(1, Ordering::Relaxed);
        self.observer.metrics.traps.inc();
        {
            let mut health = self.lock_health();
            health.last_trap = Some(format!("in session {session}: {error}"));
            if consecutive >= CRASH_LOOP_TRAPS {
                health.crash_looping.insert(session.to_string());
            }
        }
        self.observer.changed(|| self.status());
    }

    /// The plugin handled an event in `session` without trapping.
    pub fn recovered(&self, session: &str) {
        let mut health = self.lock_health();
        if !health.crash_looping.is_empty() {
            health.crash_looping.remove(session);
        }
    }

    pub fn status(&self) -> PluginStatus {
        let current = self.current();
        let health = self.lock_health();
        PluginStatus {
            name: current.name.to_string(),
            path: current.config.path.clone(),
            digest: hex::encode(current.digest),
            generation: self.generation(),
            source: current.source,
            health: if health.crash_looping.is_empty() {
                PluginHealth::Ready
            } else {
                PluginHealth::Failed
            },
            last_error: health.last_trap.clone(),
            reload_error: health.reload_error.clone(),
            traps: self.traps.load(Ordering::Relaxed),
            shadow: self.shadow().map(|shadow| shadow.status()),
        }
    }

    fn lock_health(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health.lock().expect("plugin health lock")
    }
}
