//! Bringing a plugin's serving version to its desired one.
//!
//! A plugin has two states, kept apart: the *desired* one (its entry in
//! the config in force and the content of the file at that entry's path)
//! and the *serving* one (the [`LoadedPlugin`] its [`PluginHandle`] holds,
//! with the entry and file digest it was loaded from). Every trigger — the
//! watcher seeing the desired file change, `POST /v1/plugins/{name}/reload`,
//! a config rewrite — compares the two and loads the desired version when
//! they differ, so a version that could not load is retried by the next
//! trigger and picked up once it loads; the serving version never changes
//! to one that does not. A config entry whose path changed is desired at
//! the new path even while the old file serves.

use std::sync::Arc;

use super::Supervisor;
use crate::config::PluginConfig;
use crate::plugin::{LoadedPlugin, PluginHandle, file_digest};

/// What bringing one plugin to its desired version found.
pub(super) enum Converge {
    /// The desired version serves already.
    UpToDate,
    /// The desired version, loaded, ready to be swapped in.
    Loaded(Arc<LoadedPlugin>),
    /// The desired version does not load (the message, with its causes).
    Failed(anyhow::Error),
}

impl Supervisor {
    /// What plugin `name` should serve: its config entry, or, for a plugin
    /// the config dropped but a run-time session still uses, what serves.
    pub(super) fn desired_plugin(&self, name: &str, handle: &PluginHandle) -> PluginConfig {
        let config = self.inner.config.read().expect("config lock");
        match config.plugins.get(name) {
            Some(desired) => desired.clone(),
            None => handle.current().config.clone(),
        }
    }

    /// Loads `desired` for plugin `name` unless `handle` serves it already
    /// (same entry, same file content). Swaps nothing.
    pub(super) async fn converge(&self, name: &str, handle: &PluginHandle, desired: &PluginConfig) -> Converge {
        let serving = handle.current();
        if serving.is_native() {
            return Converge::UpToDate;
        }
        if serving.config.same_version(desired)
            && file_digest(&desired.path).is_ok_and(|digest| digest == serving.digest)
        {
            return Converge::UpToDate;
        }
        match self.inner.host.load_async(name, desired).await {
            Ok(loaded) => Converge::Loaded(loaded),
            Err(error) => Converge::Failed(error),
        }
    }
}

impl Converge {
    /// Applies the outcome to `handle`: swaps a loaded version in, records
    /// a failure (the serving version stays), or clears a stale error.
    /// Returns whether a new version serves, or the load error.
    pub(super) fn apply(self, name: &str, handle: &PluginHandle) -> anyhow::Result<bool> {
        match self {
            Converge::UpToDate => {
                handle.up_to_date();
                Ok(false)
            }
            Converge::Loaded(loaded) => {
                handle.swap(loaded);
                tracing::info!(plugin = name, generation = handle.generation(), "plugin reloaded");
                Ok(true)
            }
            Converge::Failed(error) => {
                let message = format!("{error:#}");
                tracing::error!(plugin = name, error = %message, "reload failed; the previous version keeps serving");
                handle.reload_failed(message);
                Err(error)
            }
        }
    }
}
