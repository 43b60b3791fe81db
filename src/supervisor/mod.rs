//! The supervisor: every session of the host and its lifecycle.
//!
//! It holds the desired state (sessions from the config file and the
//! database) and the actual state (a [`StatusCell`] per session, and a
//! [`LiveSession`](crate::session::LiveSession) for each session that is connected), and carries out
//! the lifecycle of the multi-session model:
//!
//! | action | effect | auth |
//! |---|---|---|
//! | [`connect`](Supervisor::connect) | prepare queue, channel, plugins, task; nothing on the wire | — |
//! | [`start`](Supervisor::start) | connect (implies `connect`): QR if new, reconnect if stored | kept |
//! | [`disconnect`](Supervisor::disconnect) | close connection, drain, free task and instances; status `stopped` | kept |
//! | [`destroy`](Supervisor::destroy) | log out for real, delete auth and timers; status `logged-out` | deleted |
//! | [`list`](Supervisor::list) | every session known to config or database | — |
//! | [`stop`](Supervisor::stop) | disconnect all, draining their queues | kept |
//!
//! Lifecycle calls on one session are serialized; different sessions
//! proceed independently. [`try_lifecycle`](Supervisor::try_lifecycle) is
//! the variant for the control API: it refuses instead of waiting when a
//! call on the session is in progress. The calls are in `lifecycle.rs`;
//! what the supervisor keeps per session (config, status, the live
//! session behind its lifecycle lock) is a slot (`slot.rs`).
//!
//! Sessions come from the config file (origin `config`) or are created at
//! run time through the API (origin `api`, stored in the database, see
//! `runtime.rs`); `views.rs` has what the API reads and does besides the
//! lifecycle (sends, the sim, live events, metrics).
//!
//! Plugins are held as [`PluginHandle`]s shared by the sessions that use
//! them; [`reload_plugin`](Supervisor::reload_plugin) and
//! [`reconfigure`](Supervisor::reconfigure) (in `reconfigure.rs`) change
//! them and the sessions on a live host, bringing each plugin's serving
//! version to the one the config wants (`converge.rs`).

mod converge;
mod health;
mod leases;
mod lifecycle;
mod prune;
mod reconfigure;
mod rollout;
mod runtime;
mod shutdown;
mod slot;
mod views;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, RwLock};

use anyhow::Context as _;
use serde::Serialize;
use tokio::sync::Mutex;

pub use health::Readiness;
pub use lifecycle::{Lifecycle, LifecycleError};
use lifecycle::{disconnect_locked, lock_live};
pub use reconfigure::Reconfigured;
pub use rollout::RolloutError;
pub use runtime::{CreateError, NewSession};
use slot::SessionSlot;
pub use views::{SendTextError, SimActionError};

use crate::channel::ChannelDeps;
use crate::channel::sim::SimNetwork;
use crate::channel::whatsapp::Connector;
use crate::config::{Config, SessionConfig};
use crate::observe::Observer;
use crate::plugin::{EngineSettings, PluginHandle, PluginHost, PluginStatus};
use crate::session::{QrCode, SessionStatus, State, StatusCell};
use crate::store::Store;

/// A lifecycle call named a session nobody knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown session {0:?}")]
pub struct UnknownSession(pub String);

/// Where a session is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// The config file.
    Config,
    /// Created at run time through the control API, stored in the database.
    Api,
}

impl Origin {
    /// The name stored in the database's `sessions.origin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Config => "config",
            Origin::Api => "api",
        }
    }
}

/// One row of `list` (the API's `Session`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    pub name: String,
    /// `sim` or `whatsapp`.
    pub channel: String,
    pub origin: Origin,
    pub status: State,
    /// Whether the session is online right now.
    pub connected: bool,
    /// The account's address, once linked.
    pub jid: Option<String>,
    /// The QR to show while `scan-qr`.
    pub qr: Option<QrCode>,
    /// The pair code to show while `scan-qr`, if one was asked for.
    pub pair_code: Option<String>,
    pub last_error: Option<String>,
    /// The plugin chain, in order.
    pub plugins: Vec<String>,
    /// The host running the session: this one (`[host] id`), another one
    /// sharing the database, or none.
    pub owner: Option<String>,
}

/// Runs every session of one host.
#[derive(Clone)]
pub struct Supervisor {
    inner: Arc<Inner>,
}

struct Inner {
    host: PluginHost,
    store: Store,
    deps: ChannelDeps,
    /// The configuration in force (replaced by `reconfigure`).
    config: RwLock<Config>,
    plugins: RwLock<BTreeMap<String, Arc<PluginHandle>>>,
    sessions: RwLock<BTreeMap<String, Arc<SessionSlot>>>,
    /// Serializes reloads and reconfigurations.
    reconfiguring: Mutex<()>,
    /// Plugin entries the API changed (shadow, promotion), with the
    /// config file's entry they were changed from (see `rollout.rs`).
    entry_edits: std::sync::Mutex<BTreeMap<String, rollout::EntryEdit>>,
    /// The event bus and metrics.
    observer: Observer,
    /// Turns true when a stop's grace is over: sessions stop after their
    /// current event (see `shutdown.rs`).
    halt: tokio::sync::watch::Sender<bool>,
    /// Set when a stop begins: the lease loop takes nothing more.
    stopping: std::sync::atomic::AtomicBool,
    /// Set once the lease loop has taken this host's share the first time
    /// (a shared database): readiness waits for it.
    leases_taken: std::sync::atomic::AtomicBool,
    /// The task pruning the journal and the send record (`prune.rs`).
    pruner: std::sync::Mutex<Option<prune::Pruner>>,
}

impl Supervisor {
    /// Opens the database, compiles every plugin (or loads it from the
    /// compile cache) and registers the config's sessions and the run-time
    /// sessions stored in the database. Starts nothing.
    pub async fn new(config: Config) -> anyhow::Result<Self> {
        Self::with_whatsapp(config, Connector::network()).await
    }

    /// Like [`new`](Self::new), with WhatsApp sessions reaching WhatsApp
    /// through `whatsapp` (e.g. an in-process fake server in tests).
    pub async fn with_whatsapp(config: Config, whatsapp: Connector) -> anyhow::Result<Self> {
        let store = Store::open_for(&config.host).await.context("opening the database")?;
        prune::prune_logged(&store, config.host.journal_keep).await;
        let host = PluginHost::new(EngineSettings::for_config(&config, true))?;
        let observer = Observer::default();
        let mut plugins = BTreeMap::new();
        let mut failures = Vec::new();
        for (name, plugin) in &config.plugins {
            match host.load_async(name, plugin).await {
                Ok(loaded) => {
                    let handle = PluginHandle::new(loaded, observer.plugin(name));
                    plugins.insert(name.clone(), Arc::new(handle));
                }
                Err(error) => failures.push(format!("{error:#}")),
            }
        }
        if !failures.is_empty() {
            anyhow::bail!(
                "{} plugin(s) failed to load:\n  {}",
                failures.len(),
                failures.join("\n  ")
            );
        }
        let deps = ChannelDeps {
            store: store.clone(),
            sim: SimNetwork::new(store.clone(), &config.sim),
            whatsapp,
        };
        let supervisor = Supervisor {
            inner: Arc::new(Inner {
                host,
                store,
                deps,
                config: RwLock::new(config.clone()),
                plugins: RwLock::new(plugins),
                sessions: RwLock::new(BTreeMap::new()),
                reconfiguring: Mutex::new(()),
                entry_edits: std::sync::Mutex::default(),
                observer,
                halt: tokio::sync::watch::Sender::new(false),
                stopping: std::sync::atomic::AtomicBool::new(false),
                leases_taken: std::sync::atomic::AtomicBool::new(false),
                pruner: std::sync::Mutex::new(None),
            }),
        };
        let shadows_failed = supervisor.converge_shadows().await;
        if !shadows_failed.is_empty() {
            anyhow::bail!(
                "{} shadow(s) failed to load:\n  {}",
                shadows_failed.len(),
                shadows_failed.join("\n  ")
            );
        }
        supervisor.add_config_sessions(&config).await?;
        supervisor.load_runtime_sessions().await?;
        supervisor.watch_store();
        supervisor.start_pruning(config.host.journal_keep);
        Ok(supervisor)
    }

    /// Slots for all of `config`'s sessions, registered in the database in
    /// one transaction, each with its stored account address.
    async fn add_config_sessions(&self, config: &Config) -> anyhow::Result<()> {
        let store = &self.inner.store;
        let sessions: Vec<(&str, &str)> = config
            .sessions
            .iter()
            .map(|(name, session)| (name.as_str(), session.channel.as_str()))
            .collect();
        store
            .sessions_register(&sessions, Origin::Config.as_str())
            .await
            .context("registering the config's sessions")?;
        let mut jids: BTreeMap<String, Option<String>> = store
            .sessions_all()
            .await?
            .into_iter()
            .map(|row| (row.name, row.jid))
            .collect();
        for (name, session) in &config.sessions {
            let jid = jids.remove(name).flatten();
            let slot = self.slot_for(name, session.clone(), Origin::Config, jid, None);
            self.write_sessions().insert(name.clone(), slot);
        }
        Ok(())
    }

    /// A slot for config session `name`, registered in the database;
    /// `status` carries over the status cell of a slot it replaces.
    async fn new_slot(
        &self,
        name: &str,
        config: SessionConfig,
        status: Option<StatusCell>,
    ) -> anyhow::Result<Arc<SessionSlot>> {
        let store = &self.inner.store;
        store
            .session_register(name, config.channel.as_str(), Origin::Config.as_str())
            .await
            .with_context(|| format!("registering session {name}"))?;
        let jid = match status {
            Some(_) => None,
            None => store.session_get(name).await?.and_then(|row| row.jid),
        };
        Ok(self.slot_for(name, config, Origin::Config, jid, status))
    }

    /// A slot for session `name`; `status` carries over the status cell of
    /// a slot it replaces, else a new cell starts with the account `jid`.
    fn slot_for(
        &self,
        name: &str,
        config: SessionConfig,
        origin: Origin,
        jid: Option<String>,
        status: Option<StatusCell>,
    ) -> Arc<SessionSlot> {
        let observer = self.inner.observer.session(name);
        let status = status.unwrap_or_else(|| StatusCell::observed(jid, observer.status_feed()));
        Arc::new(SessionSlot {
            config,
            origin,
            status,
            gauge: self.inner.host.gauge(),
            observer,
            live: Mutex::new(None),
            view: std::sync::Mutex::new(None),
            forgotten: AtomicBool::new(false),
        })
    }

    /// `list`: every session known to the config or the database.
    pub async fn list(&self) -> anyhow::Result<Vec<SessionInfo>> {
        let slots = self.slots();
        let mut rows = Vec::new();
        let owners: BTreeMap<String, Option<String>> = if self.store().leases().enabled() {
            let leases = self.store().leases_all().await?;
            leases.into_iter().map(|lease| (lease.session, lease.owner)).collect()
        } else {
            BTreeMap::new()
        };
        for stored in self.inner.store.sessions_all().await? {
            let info = match slots.get(&stored.name) {
                Some(slot) => self.info(&stored.name, slot),
                // A config session since removed from the config.
                None => SessionInfo {
                    name: stored.name,
                    channel: stored.channel,
                    origin: if stored.origin == Origin::Api.as_str() {
                        Origin::Api
                    } else {
                        Origin::Config
                    },
                    status: State::Stopped,
                    connected: false,
                    jid: stored.jid,
                    qr: None,
                    pair_code: None,
                    last_error: None,
                    plugins: Vec::new(),
                    owner: None,
                },
            };
            let owner = match owners.get(&info.name) {
                Some(owner) if info.owner.is_none() => owner.clone(),
                _ => info.owner.clone(),
            };
            rows.push(SessionInfo { owner, ..info });
        }
        Ok(rows)
    }

    /// The session's current status.
    pub fn status(&self, name: &str) -> Result<SessionStatus, UnknownSession> {
        Ok(self.slot(name)?.status.get())
    }

    /// One session as `list` shows it.
    pub fn session(&self, name: &str) -> Result<SessionInfo, UnknownSession> {
        Ok(self.info(name, &*self.slot(name)?))
    }

    /// Waits until the session's status satisfies `done`, returning it.
    pub async fn wait_for(&self, name: &str, done: impl Fn(&SessionStatus) -> bool) -> anyhow::Result<SessionStatus> {
        let mut changes = self.slot(name)?.status.subscribe();
        let status = changes.wait_for(|s| done(s)).await.context("session status closed")?;
        Ok(status.clone())
    }

    /// Waits until every event queued so far for `name` has been handled.
    pub async fn flush(&self, name: &str) -> anyhow::Result<()> {
        let slot = self.slot(name)?;
        let live = slot.live.lock().await;
        match live.as_ref() {
            Some(session) => Ok(session.flush().await?),
            None => anyhow::bail!("session {name} is not running"),
        }
    }

    /// Whether the session has a task (it was connected and not since disconnected).
    pub async fn is_running(&self, name: &str) -> Result<bool, UnknownSession> {
        Ok(self.slot(name)?.live.lock().await.is_some())
    }

    /// How many plugin instances the session holds right now.
    pub fn live_instances(&self, name: &str) -> Result<usize, UnknownSession> {
        Ok(self.slot(name)?.gauge.get())
    }

    /// Every plugin's serving version and health.
    pub fn plugins(&self) -> Vec<PluginStatus> {
        self.read_plugins().values().map(|handle| handle.status()).collect()
    }

    /// The simulated network of this host.
    pub fn sim(&self) -> &SimNetwork {
        &self.inner.deps.sim
    }

    /// The database of this host.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    fn info(&self, name: &str, slot: &SessionSlot) -> SessionInfo {
        let status = slot.status.get();
        SessionInfo {
            name: name.to_string(),
            channel: slot.config.channel.as_str().to_string(),
            origin: slot.origin,
            status: status.state,
            connected: status.state == State::Connected,
            jid: status.jid,
            qr: status.qr,
            pair_code: status.pair_code,
            last_error: status.last_error,
            plugins: slot.config.plugins.clone(),
            owner: self.runs_here(name, status.state).then(|| self.host_id()),
        }
    }

    /// Whether this host runs `name` now: on a shared database, while it
    /// holds the lease; else while the session is not stopped.
    fn runs_here(&self, name: &str, state: State) -> bool {
        let leases = self.store().leases();
        if leases.enabled() {
            leases.fence(name).is_some()
        } else {
            state != State::Stopped
        }
    }

    fn read_plugins(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<PluginHandle>>> {
        self.inner.plugins.read().expect("plugins lock")
    }

    fn write_sessions(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Arc<SessionSlot>>> {
        self.inner.sessions.write().expect("sessions lock")
    }

    fn slot(&self, name: &str) -> Result<Arc<SessionSlot>, UnknownSession> {
        let sessions = self.inner.sessions.read().expect("sessions lock");
        sessions
            .get(name)
            .cloned()
            .ok_or_else(|| UnknownSession(name.to_string()))
    }

    fn slots(&self) -> BTreeMap<String, Arc<SessionSlot>> {
        self.inner.sessions.read().expect("sessions lock").clone()
    }
}
