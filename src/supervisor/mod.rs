//! The supervisor: every session of the host and its lifecycle.
//!
//! It holds the desired state (sessions from the config file and the
//! database) and the actual state (a [`StatusCell`] per session, and a
//! [`LiveSession`] for each session that is connected), and carries out
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
//! proceed independently.
//!
//! Plugins are held as [`PluginHandle`]s shared by the sessions that use
//! them; [`reload_plugin`](Supervisor::reload_plugin) and
//! [`reconfigure`](Supervisor::reconfigure) (in `reconfigure.rs`) change
//! them and the sessions on a live host.

mod reconfigure;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use anyhow::Context as _;
use serde::Serialize;
use tokio::sync::Mutex;

use crate::channel::ChannelDeps;
use crate::channel::sim::SimNetwork;
use crate::config::{Config, SessionConfig};
use crate::plugin::{EngineSettings, InstanceGauge, PluginHandle, PluginHost, PluginStatus};
use crate::session::{LiveSession, SessionSpec, SessionStatus, State, StatusCell};
use crate::store::Store;

/// How long finished journal rows are kept to recognize a message the
/// network delivers again (pruned at start).
const DEDUPE_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// A lifecycle call named a session nobody knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown session {0:?}")]
pub struct UnknownSession(pub String);

/// One row of `list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionInfo {
    pub name: String,
    pub channel: String,
    /// The account's address, once linked.
    pub jid: Option<String>,
    pub status: State,
    /// Whether the session is online right now.
    pub connected: bool,
    pub last_error: Option<String>,
    /// The plugin chain, in order.
    pub plugins: Vec<String>,
}

/// One session's place in the supervisor.
struct SessionSlot {
    config: SessionConfig,
    status: StatusCell,
    gauge: InstanceGauge,
    live: Mutex<Option<LiveSession>>,
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
}

impl Supervisor {
    /// Opens the database, compiles every plugin (or loads it from the
    /// compile cache) and registers the config's sessions. Starts nothing.
    pub async fn new(config: Config) -> anyhow::Result<Self> {
        let store = match &config.host.database {
            Some(url) => Store::open_url(url).await,
            None => Store::open(&config.host.data_dir).await,
        }
        .context("opening the database")?;
        let day_ago = crate::util::now_ms() as i64 - DEDUPE_WINDOW_MS;
        let pruned = store.journal_prune(day_ago).await.context("pruning the journal")?;
        tracing::debug!(pruned, "old finished journal rows pruned");
        let host = PluginHost::new(EngineSettings::for_config(&config, true))?;
        let mut plugins = BTreeMap::new();
        let mut failures = Vec::new();
        for (name, plugin) in &config.plugins {
            match host.load_async(name, plugin).await {
                Ok(loaded) => {
                    plugins.insert(name.clone(), Arc::new(PluginHandle::new(loaded)));
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
            }),
        };
        for (name, session) in &config.sessions {
            let slot = supervisor.new_slot(name, session.clone(), None).await?;
            supervisor.write_sessions().insert(name.clone(), slot);
        }
        Ok(supervisor)
    }

    /// A slot for session `name`, registered in the database; `status`
    /// carries over the status cell of a slot it replaces.
    async fn new_slot(
        &self,
        name: &str,
        config: SessionConfig,
        status: Option<StatusCell>,
    ) -> anyhow::Result<Arc<SessionSlot>> {
        let store = &self.inner.store;
        store
            .session_register(name, config.channel.as_str(), "config")
            .await
            .with_context(|| format!("registering session {name}"))?;
        let status = match status {
            Some(status) => status,
            None => StatusCell::new(store.session_get(name).await?.and_then(|row| row.jid)),
        };
        Ok(Arc::new(SessionSlot {
            config,
            status,
            gauge: InstanceGauge::default(),
            live: Mutex::new(None),
        }))
    }

    /// Starts every session whose config says `autostart`; failures are
    /// logged and shown in the session's status.
    pub async fn start_autostart(&self) {
        for (name, slot) in self.slots() {
            if slot.config.autostart
                && let Err(error) = self.start(&name).await
            {
                tracing::error!(session = %name, error = %format!("{error:#}"), "session did not start");
            }
        }
    }

    /// `connect`: prepares the session (queue, channel, plugins, task)
    /// without touching the network. Idempotent.
    pub async fn connect(&self, name: &str) -> anyhow::Result<()> {
        let slot = self.slot(name)?;
        let mut live = slot.live.lock().await;
        if live.is_none() {
            *live = Some(self.prepare(name, &slot).await?);
        }
        Ok(())
    }

    /// `start`: connects the session to its network. A new account shows a
    /// QR; a stored one reconnects. Idempotent while running.
    pub async fn start(&self, name: &str) -> anyhow::Result<()> {
        let slot = self.slot(name)?;
        let mut live = slot.live.lock().await;
        if live.is_some()
            && matches!(
                slot.status.state(),
                State::Starting | State::ScanQr | State::Connected | State::Disconnected
            )
        {
            return Ok(());
        }
        if live.is_none() {
            *live = Some(self.prepare(name, &slot).await?);
        }
        tracing::info!(session = name, "starting session");
        live.as_ref().expect("prepared above").start().await
    }

    /// `disconnect`: closes the connection, handles what is queued, and
    /// frees the session's task and instances. Auth is kept: `start`
    /// reconnects with no QR.
    pub async fn disconnect(&self, name: &str) -> anyhow::Result<()> {
        let slot = self.slot(name)?;
        let mut live = slot.live.lock().await;
        if let Some(session) = live.take() {
            tracing::info!(session = name, "disconnecting session");
            session.close().await;
            slot.status.set_state(State::Stopped);
        }
        Ok(())
    }

    /// `destroy`: logs the account out on the network, deletes its auth and
    /// pending timers. Only a new QR links it again. Plugin kv data stays.
    pub async fn destroy(&self, name: &str) -> anyhow::Result<()> {
        let slot = self.slot(name)?;
        let mut live = slot.live.lock().await;
        let session = match live.take() {
            Some(session) => session,
            None => self.prepare(name, &slot).await?,
        };
        tracing::info!(session = name, "destroying session");
        let logout = session.channel().logout().await;
        let timers = session.clear_timers().await;
        session.close().await;
        logout.context("logging out")?;
        timers.context("deleting timers")?;
        self.inner.store.session_set_jid(name, None).await?;
        slot.status.update(|s| {
            s.state = State::LoggedOut;
            s.jid = None;
        });
        Ok(())
    }

    /// `list`: every session known to the config or the database.
    pub async fn list(&self) -> anyhow::Result<Vec<SessionInfo>> {
        let slots = self.slots();
        let mut rows = Vec::new();
        for stored in self.inner.store.sessions_all().await? {
            let info = match slots.get(&stored.name) {
                Some(slot) => self.info(&stored.name, slot),
                None => SessionInfo {
                    name: stored.name,
                    channel: stored.channel,
                    jid: stored.jid,
                    status: State::Stopped,
                    connected: false,
                    last_error: None,
                    plugins: Vec::new(),
                },
            };
            rows.push(info);
        }
        Ok(rows)
    }

    /// `stop`: disconnects every session, draining their queues.
    pub async fn stop(&self) {
        let mut closing = tokio::task::JoinSet::new();
        for (name, _) in self.slots() {
            let supervisor = self.clone();
            closing.spawn(async move {
                if let Err(error) = supervisor.disconnect(&name).await {
                    tracing::error!(session = %name, error = %format!("{error:#}"), "session did not stop cleanly");
                }
            });
        }
        closing.join_all().await;
        if let Err(error) = self.inner.store.writer().barrier().await {
            tracing::error!(%error, "stopping with database writes lost");
        }
        self.inner.store.close().await;
    }

    /// The session's current status.
    pub fn status(&self, name: &str) -> Result<SessionStatus, UnknownSession> {
        Ok(self.slot(name)?.status.get())
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

    async fn prepare(&self, name: &str, slot: &SessionSlot) -> anyhow::Result<LiveSession> {
        let host = self.inner.config.read().expect("config lock").host.clone();
        let spec = SessionSpec {
            name: Arc::from(name),
            channel: slot.config.channel,
            plugins: self.chain_of(&slot.config),
            queue_capacity: host.queue_capacity,
            event_attempts: host.event_attempts,
            journal: host.journal,
            sends_per_minute: slot.config.sends_per_minute,
        };
        LiveSession::prepare(spec, &self.inner.deps, slot.status.clone(), slot.gauge.clone())
            .await
            .inspect_err(|error| slot.status.fail(format!("{error:#}")))
    }

    /// The session's plugins in order, each with the session's overrides.
    fn chain_of(&self, session: &SessionConfig) -> Vec<(Arc<PluginHandle>, Option<toml::Table>)> {
        let plugins = self.read_plugins();
        session
            .plugins
            .iter()
            .map(|name| {
                // Config validation (and `reconfigure`) guarantee every chain entry names a loaded plugin.
                (plugins[name].clone(), session.overrides.get(name).cloned())
            })
            .collect()
    }

    fn info(&self, name: &str, slot: &SessionSlot) -> SessionInfo {
        let status = slot.status.get();
        SessionInfo {
            name: name.to_string(),
            channel: slot.config.channel.as_str().to_string(),
            jid: status.jid,
            status: status.state,
            connected: status.state == State::Connected,
            last_error: status.last_error,
            plugins: slot.config.plugins.clone(),
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
