//! Changing a live host: reloading one plugin, applying a new config,
//! adding a native handler.
//!
//! Both compile off the event path and swap at event boundaries (see
//! [`PluginHandle`]). Nothing that fails to load replaces what serves:
//! a plugin file that does not compile or link leaves its previous
//! version serving, with the error in its status, until a later reload,
//! file change or config rewrite finds the desired version loadable (see
//! `converge.rs`); a config whose new plugins do not load is not applied
//! at all. Only what changed is
//! touched: a session whose entry is unchanged keeps running, its queue
//! and instances intact. Sessions created through the API are not the
//! config's to remove (see `runtime.rs`), nor are native handlers.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::Supervisor;
use super::converge::Converge;
use crate::config::Config;
use crate::plugin::PluginHandle;
use crate::plugin::native::NativePlugin;

/// What [`Supervisor::reconfigure`] changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reconfigured {
    pub sessions_added: Vec<String>,
    pub sessions_removed: Vec<String>,
    pub sessions_restarted: Vec<String>,
    pub plugins_reloaded: Vec<String>,
}

impl Supervisor {
    /// The configuration in force.
    pub fn config(&self) -> Config {
        self.inner.config.read().expect("config lock").clone()
    }

    /// Brings plugin `name` to its desired version (its config entry, the
    /// file at that entry's path; see `converge.rs`) and swaps it in if it
    /// is not the serving one. Returns whether a new version now serves.
    /// On failure the old version keeps serving, the error shows in its
    /// status and is returned.
    pub async fn reload_plugin(&self, name: &str) -> anyhow::Result<bool> {
        let _reconfiguring = self.inner.reconfiguring.lock().await;
        let Some(handle) = self.read_plugins().get(name).cloned() else {
            anyhow::bail!("unknown plugin {name:?}");
        };
        let desired = self.desired_plugin(name, &handle);
        let reloaded = self.converge(name, &handle, &desired).await.apply(name, &handle);
        if let Err(error) = self.converge_shadow(name, &handle).await {
            tracing::error!(plugin = name, error = %format!("{error:#}"), "shadow not reloaded; the previous one (if any) keeps running");
        }
        reloaded
    }

    /// Applies `new` to the running host: changed plugins are reloaded,
    /// added sessions registered (and started if `autostart`), removed ones
    /// disconnected, changed ones restarted; the rest is left alone.
    /// `[host]` and `[sim]` changes need a restart and are only logged.
    pub async fn reconfigure(&self, mut new: Config) -> anyhow::Result<Reconfigured> {
        let _reconfiguring = self.inner.reconfiguring.lock().await;
        self.keep_entry_edits(&mut new);
        let old = self.config();
        if old.host != new.host || old.sim != new.sim {
            tracing::warn!("[host] and [sim] changes take effect when purr restarts");
        }
        if let Some(name) = new.plugins.keys().find(|name| self.is_native(name)) {
            anyhow::bail!("the new config defines plugin {name:?}, the name of a native handler; not applied");
        }
        let mut report = Reconfigured::default();

        // Load added plugins and those whose serving version is not the
        // desired one first: if an added one fails, apply nothing.
        let mut added_plugins = Vec::new();
        let mut outcomes = Vec::new();
        for (name, plugin) in &new.plugins {
            let existing = self.read_plugins().get(name).cloned();
            match existing {
                Some(handle) => {
                    let outcome = self.converge(name, &handle, plugin).await;
                    if !old.plugins.contains_key(name)
                        && let Converge::Failed(error) = outcome
                    {
                        return Err(error.context("the new config was not applied"));
                    }
                    outcomes.push((name.clone(), handle, outcome));
                }
                None => match self.inner.host.load_async(name, plugin).await {
                    Ok(loaded) => added_plugins.push((name.clone(), loaded)),
                    Err(error) => return Err(error.context("the new config was not applied")),
                },
            }
        }
        {
            let mut plugins = self.inner.plugins.write().expect("plugins lock");
            for (name, loaded) in added_plugins {
                let observer = self.inner.observer.plugin(&name);
                plugins.insert(name, Arc::new(PluginHandle::new(loaded, observer)));
            }
        }
        for (name, handle, outcome) in outcomes {
            // A failure is logged and shown in the plugin's status.
            if let Ok(true) = outcome.apply(&name, &handle) {
                report.plugins_reloaded.push(name);
            }
        }
        *self.inner.config.write().expect("config lock") = Config {
            plugins: new.plugins.clone(),
            ..old.clone()
        };

        // Sessions: removed, changed, added.
        let names: BTreeSet<&String> = old.sessions.keys().chain(new.sessions.keys()).collect();
        for name in names {
            let (before, after) = (old.sessions.get(name), new.sessions.get(name));
            if before == after {
                continue;
            }
            let status = match before {
                Some(_) => {
                    self.disconnect(name).await?;
                    let slot = self.write_sessions().remove(name.as_str());
                    slot.map(|slot| slot.status.clone())
                }
                None => self.yield_to_config(name).await?,
            };
            let Some(session) = after else {
                tracing::info!(session = %name, "session removed from the config");
                report.sessions_removed.push(name.clone());
                continue;
            };
            let slot = self.new_slot(name, session.clone(), status).await?;
            self.write_sessions().insert(name.clone(), slot);
            if before.is_some() {
                report.sessions_restarted.push(name.clone());
            } else {
                report.sessions_added.push(name.clone());
            }
            if session.autostart
                && let Err(error) = self.start(name).await
            {
                tracing::error!(session = %name, error = %format!("{error:#}"), "session did not start");
            }
        }

        // Shadows, as the new entries name them (a candidate that does not load is logged; the old shadow stays).
        for error in self.converge_shadows().await {
            tracing::error!(error = %error, "shadow not loaded; the previous one (if any) keeps running");
        }

        // Forget plugins no session can use any more.
        let runtime = self.runtime_plugins();
        self.inner
            .plugins
            .write()
            .expect("plugins lock")
            .retain(|name, handle| {
                new.plugins.contains_key(name) || runtime.contains(name) || handle.current().is_native()
            });
        *self.inner.config.write().expect("config lock") = new;
        tracing::info!(?report, "config applied");
        Ok(report)
    }

    /// Registers a native handler (Rust code of a host embedding purr, see
    /// [`crate::plugin::native`]) as a plugin sessions can name from now
    /// on: sessions started afterwards, whose `plugins` name it (config
    /// sessions built in code, or sessions created at run time). Its name
    /// must be new. It is never reloaded and outlives config changes.
    pub async fn add_native(&self, native: NativePlugin) -> anyhow::Result<()> {
        let _reconfiguring = self.inner.reconfiguring.lock().await;
        let name = native.name().to_string();
        let mut plugins = self.inner.plugins.write().expect("plugins lock");
        if plugins.contains_key(&name) {
            anyhow::bail!("native handler {name:?}: a plugin of that name is already defined");
        }
        let handle = PluginHandle::new(Arc::new(native.into_loaded()), self.inner.observer.plugin(&name));
        plugins.insert(name, Arc::new(handle));
        Ok(())
    }

    /// Whether `name` is a native handler's.
    fn is_native(&self, name: &str) -> bool {
        self.read_plugins()
            .get(name)
            .is_some_and(|handle| handle.current().is_native())
    }
}
