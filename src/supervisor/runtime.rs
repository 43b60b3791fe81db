//! Sessions created at run time through the control API (origin `api`).
//!
//! Such a session is defined by its database row alone (channel, plugin
//! chain, autostart; migration 0004), so it comes back when the host
//! restarts, next to the config file's sessions. A config session of the
//! same name wins: it is what the file says. Config reloads leave run-time
//! sessions alone (a plugin they use stays loaded even if the config drops
//! it). `destroy` forgets a run-time session: after logging it out nothing
//! else defines it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;

use serde::Deserialize;

use super::{Origin, SessionInfo, SessionSlot, Supervisor};
use crate::config::{ChannelKind, DEFAULT_SENDS_PER_MINUTE, MAX_NAME_LEN, SessionConfig, is_valid_name, shown_name};
use crate::session::StatusCell;

/// What `POST /v1/sessions` asks for.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSession {
    /// Letters, digits, `_` and `-`.
    pub name: String,
    /// `sim` or `whatsapp`.
    pub channel: String,
    /// The plugin chain, in order; every plugin must be loaded. May be empty.
    pub plugins: Vec<String>,
    /// Start it now and whenever the host starts (default true).
    #[serde(default = "default_autostart")]
    pub autostart: bool,
}

fn default_autostart() -> bool {
    true
}

/// Why a session was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("invalid session name {}: use 1 to {MAX_NAME_LEN} letters, digits, `_` and `-`", shown_name(.0))]
    BadName(String),
    /// Well-formed but refused: unknown channel or plugin, a plugin twice.
    #[error("{0}")]
    Invalid(String),
    #[error("session {0:?} exists")]
    Exists(String),
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

impl Supervisor {
    /// Creates a run-time session, stores it, and starts it if `autostart`
    /// (a start that fails shows in its status, as at host start).
    pub async fn create(&self, new: NewSession) -> Result<SessionInfo, CreateError> {
        if !is_valid_name(&new.name) {
            return Err(CreateError::BadName(new.name));
        }
        let channel = ChannelKind::from_name(&new.channel).ok_or_else(|| {
            CreateError::Invalid(format!(
                "unknown channel {:?} (expected \"sim\" or \"whatsapp\")",
                new.channel
            ))
        })?;
        self.check_chain(&new.plugins)?;
        let name = new.name;
        {
            // A config reload registering the same name waits, or is waited for.
            let _reconfiguring = self.inner.reconfiguring.lock().await;
            if self.slot(&name).is_ok() {
                return Err(CreateError::Exists(name));
            }
            let chain = serde_json::to_string(&new.plugins).map_err(anyhow::Error::from)?;
            if !self
                .inner
                .store
                .session_create(&name, channel.as_str(), &chain, new.autostart)
                .await?
            {
                return Err(CreateError::Exists(name));
            }
            let config = runtime_config(channel, new.plugins, new.autostart);
            let slot = self.slot_for(&name, config, Origin::Api, None, None);
            self.write_sessions().insert(name.clone(), slot);
        }
        tracing::info!(session = %name, channel = channel.as_str(), "run-time session created");
        if new.autostart
            && let Err(error) = self.start(&name).await
        {
            tracing::error!(session = %name, error = %format!("{error:#}"), "session did not start");
        }
        self.session(&name)
            .map_err(|error| CreateError::Failed(anyhow::anyhow!("{error}: removed while it started")))
    }

    /// Every plugin of `chain` is loaded, and named once.
    fn check_chain(&self, chain: &[String]) -> Result<(), CreateError> {
        let plugins = self.read_plugins();
        let mut seen = BTreeSet::new();
        for name in chain {
            if !plugins.contains_key(name) {
                let defined: Vec<&str> = plugins.keys().map(String::as_str).collect();
                return Err(CreateError::Invalid(format!(
                    "unknown plugin {name:?} (loaded: {})",
                    defined.join(", ")
                )));
            }
            if !seen.insert(name) {
                return Err(CreateError::Invalid(format!("plugin {name:?} is twice in the chain")));
            }
        }
        Ok(())
    }

    /// Registers the run-time sessions stored in the database (at host start).
    pub(super) async fn load_runtime_sessions(&self) -> anyhow::Result<()> {
        for row in self.inner.store.sessions_all().await? {
            if row.origin != Origin::Api.as_str() || self.slot(&row.name).is_ok() {
                continue;
            }
            let Some(channel) = ChannelKind::from_name(&row.channel) else {
                tracing::warn!(session = %row.name, channel = %row.channel, "stored session with an unknown channel skipped");
                continue;
            };
            let plugins: Vec<String> = match serde_json::from_str(&row.plugins) {
                Ok(plugins) => plugins,
                Err(error) => {
                    tracing::warn!(session = %row.name, %error, "stored session with an unreadable chain skipped");
                    continue;
                }
            };
            let config = runtime_config(channel, plugins, row.autostart);
            let slot = self.slot_for(&row.name, config, Origin::Api, row.jid, None);
            tracing::debug!(session = %row.name, "run-time session loaded");
            self.write_sessions().insert(row.name, slot);
        }
        Ok(())
    }

    /// Forgets a destroyed run-time session: its slot and its row.
    pub(super) async fn forget(&self, name: &str, slot: &SessionSlot) -> anyhow::Result<()> {
        slot.forgotten.store(true, Ordering::Release);
        {
            let mut sessions = self.write_sessions();
            if sessions.get(name).is_some_and(|s| std::ptr::eq(&**s, slot)) {
                sessions.remove(name);
            }
        }
        self.inner.store.session_delete(name).await?;
        tracing::info!(session = name, "run-time session forgotten");
        Ok(())
    }

    /// Removes the run-time session `name`, if there is one, for a config
    /// session of the same name; returns its status cell to carry over.
    pub(super) async fn yield_to_config(&self, name: &str) -> anyhow::Result<Option<StatusCell>> {
        let Ok(slot) = self.slot(name) else {
            return Ok(None);
        };
        tracing::warn!(
            session = name,
            "the config now defines this run-time session; the config's entry replaces it"
        );
        self.disconnect(name).await?;
        self.write_sessions().remove(name);
        Ok(Some(slot.status.clone()))
    }

    /// The plugins run-time sessions use (a config reload keeps them loaded).
    pub(super) fn runtime_plugins(&self) -> BTreeSet<String> {
        self.slots()
            .values()
            .filter(|slot| slot.origin == Origin::Api)
            .flat_map(|slot| slot.config.plugins.iter().cloned())
            .collect()
    }
}

fn runtime_config(channel: ChannelKind, plugins: Vec<String>, autostart: bool) -> SessionConfig {
    SessionConfig {
        channel,
        plugins,
        autostart,
        pair_phone: None,
        sends_per_minute: DEFAULT_SENDS_PER_MINUTE,
        overrides: BTreeMap::new(),
    }
}
