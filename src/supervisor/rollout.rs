//! Shadows and promotion on a live host (see [`crate::rollout`]).
//!
//! A plugin's shadow is part of its desired state, like its file: the
//! `shadow` key of its entry in the config in force. `POST
//! /v1/plugins/{name}/shadow`, `DELETE …/shadow` and promotion edit the
//! entry in the config in force (not the file on disk): promotion makes
//! the candidate the entry's `path`, so later reload triggers keep it. A
//! config file rewrite keeps such an edit while the file's entry for that
//! plugin stays what it was when the edit was made; once the file changes
//! that entry, the file wins. To keep an edit across a restart, write it
//! into the config file.

use std::path::PathBuf;

use super::Supervisor;
use crate::config::{Config, PluginConfig};
use crate::plugin::{PluginHandle, PluginStatus, file_digest};
use crate::rollout::shadow::ShadowStatus;

/// Connections of the pool a shadow's sandboxes read through.
const SHADOW_CONNECTIONS: u32 = 2;

/// A plugin entry the API changed.
pub(super) struct EntryEdit {
    /// The entry as the config file had it.
    from_file: PluginConfig,
    /// The entry as the API left it.
    edited: PluginConfig,
}

/// Why a shadow or promotion request failed.
#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    #[error("unknown plugin {0:?}")]
    Unknown(String),
    #[error("plugin {0:?} is a native handler: it has no file to shadow or promote")]
    Native(String),
    #[error("plugin {0:?} has no shadow")]
    NoShadow(String),
    /// The candidate does not load (the old state stays).
    #[error("{0:#}")]
    Load(anyhow::Error),
}

impl Supervisor {
    /// Runs the component at `path` (relative to the config's directory)
    /// as plugin `name`'s shadow, replacing any shadow it had. The
    /// candidate gets the plugin's entry (limits, settings, allowed hosts).
    pub async fn attach_shadow(&self, name: &str, path: PathBuf) -> Result<ShadowStatus, RolloutError> {
        let _reconfiguring = self.inner.reconfiguring.lock().await;
        let handle = self.file_plugin(name)?;
        let path = self.config_dir().join(path);
        let entry = self.desired_plugin(name, &handle).candidate(path.clone());
        let candidate = self
            .inner
            .host
            .load_async(name, &entry)
            .await
            .map_err(RolloutError::Load)?;
        self.edit_entry(name, |entry| entry.shadow = Some(path));
        handle.attach_shadow(candidate, self.shadow_reader());
        tracing::info!(plugin = name, path = %entry.path.display(), "shadow attached: the candidate gets every live event, without effects");
        Ok(handle.shadow().expect("just attached").status())
    }

    /// Drops plugin `name`'s shadow; returns whether it had one.
    pub async fn detach_shadow(&self, name: &str) -> Result<bool, RolloutError> {
        let _reconfiguring = self.inner.reconfiguring.lock().await;
        let handle = self.file_plugin(name)?;
        self.edit_entry(name, |entry| entry.shadow = None);
        let had = handle.detach_shadow();
        if had {
            tracing::info!(plugin = name, "shadow dropped");
        }
        Ok(had)
    }

    /// Makes plugin `name`'s shadow its serving version (every session
    /// moves to it at its next event, like a reload) and drops the shadow.
    pub async fn promote(&self, name: &str) -> Result<PluginStatus, RolloutError> {
        let _reconfiguring = self.inner.reconfiguring.lock().await;
        let handle = self.file_plugin(name)?;
        let Some(candidate) = handle.promote() else {
            return Err(RolloutError::NoShadow(name.into()));
        };
        let path = candidate.config.path.clone();
        self.edit_entry(name, |entry| {
            entry.path = path.clone();
            entry.shadow = None;
        });
        tracing::info!(plugin = name, path = %path.display(), generation = handle.generation(), "shadow promoted: the candidate serves");
        Ok(handle.status())
    }

    /// Brings every plugin's shadow to the one the config in force names
    /// ([`converge_shadow`](Self::converge_shadow)); returns the failures.
    pub(super) async fn converge_shadows(&self) -> Vec<String> {
        let handles: Vec<_> = (self.read_plugins().iter())
            .map(|(name, handle)| (name.clone(), handle.clone()))
            .collect();
        let mut failures = Vec::new();
        for (name, handle) in handles {
            if let Err(error) = self.converge_shadow(&name, &handle).await {
                // A load error names the plugin already.
                failures.push(format!("shadow: {error:#}"));
            }
        }
        failures
    }

    /// Brings plugin `name`'s shadow to the one its entry in the config in
    /// force names: attached (loaded anew when the file's content or the
    /// entry changed), or dropped. A candidate that does not load leaves
    /// the shadow as it was; so does a plugin with no entry.
    pub(super) async fn converge_shadow(&self, name: &str, handle: &PluginHandle) -> anyhow::Result<()> {
        let desired = self
            .inner
            .config
            .read()
            .expect("config lock")
            .plugins
            .get(name)
            .cloned();
        // A plugin the config dropped (run-time sessions still use it) has
        // no entry to say what its shadow should be: it keeps what it has.
        let Some(desired) = desired else {
            return Ok(());
        };
        let Some(path) = desired.shadow.clone() else {
            if handle.detach_shadow() {
                tracing::info!(plugin = name, "shadow dropped");
            }
            return Ok(());
        };
        let entry = desired.candidate(path);
        if let Some(shadow) = handle.shadow()
            && shadow.candidate().config == entry
            && file_digest(&entry.path).is_ok_and(|digest| digest == shadow.candidate().digest)
        {
            return Ok(());
        }
        let candidate = self.inner.host.load_async(name, &entry).await?;
        tracing::info!(plugin = name, path = %entry.path.display(), "shadow attached: the candidate gets every live event, without effects");
        handle.attach_shadow(candidate, self.shadow_reader());
        Ok(())
    }

    /// What shadows read the live data through: a pool of their own.
    fn shadow_reader(&self) -> crate::store::Store {
        self.inner.store.reader_pool(SHADOW_CONNECTIONS)
    }

    /// Plugin `name`'s handle, if it is a file plugin.
    fn file_plugin(&self, name: &str) -> Result<std::sync::Arc<PluginHandle>, RolloutError> {
        let handle = self.read_plugins().get(name).cloned();
        let handle = handle.ok_or_else(|| RolloutError::Unknown(name.into()))?;
        if handle.current().is_native() {
            return Err(RolloutError::Native(name.into()));
        }
        Ok(handle)
    }

    /// Changes plugin `name`'s entry in the config in force (a plugin only
    /// run-time sessions use has none: nothing to change), remembering the
    /// file's entry it was changed from.
    fn edit_entry(&self, name: &str, change: impl FnOnce(&mut PluginConfig)) {
        let mut config = self.inner.config.write().expect("config lock");
        let Some(entry) = config.plugins.get_mut(name) else {
            return;
        };
        let mut edits = self.inner.entry_edits.lock().expect("entry edits lock");
        let edit = edits.entry(name.to_string()).or_insert_with(|| EntryEdit {
            from_file: entry.clone(),
            edited: entry.clone(),
        });
        change(entry);
        edit.edited = entry.clone();
    }

    /// Carries the API's edits over into `new` (a config read from the
    /// file) for the plugins whose entry in the file is unchanged since
    /// the edit; forgets the others.
    pub(super) fn keep_entry_edits(&self, new: &mut Config) {
        let mut edits = self.inner.entry_edits.lock().expect("entry edits lock");
        edits.retain(|name, edit| match new.plugins.get_mut(name) {
            Some(entry) if *entry == edit.from_file => {
                *entry = edit.edited.clone();
                true
            }
            _ => false,
        });
    }

    /// The directory relative paths are resolved against: the config file's.
    fn config_dir(&self) -> PathBuf {
        let source = self.inner.config.read().expect("config lock").source.clone();
        source.parent().map(std::path::Path::to_path_buf).unwrap_or_default()
    }
}
