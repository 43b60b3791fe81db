//! The lifecycle calls of the multi-session model on one session —
//! `connect`, `start`, `disconnect`, `destroy` (and their refusing
//! variants for the control API, and pair-by-phone) — each under the
//! session's lifecycle lock, so calls on one session are serialized while
//! different sessions proceed independently.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::Context as _;
use futures_util::StreamExt as _;
use tokio::sync::MutexGuard;

use super::{Origin, SessionInfo, SessionSlot, Supervisor, UnknownSession};
use crate::channel::ChannelSpec;
use crate::config::{ChannelKind, SessionConfig};
use crate::plugin::PluginHandle;
use crate::session::{LiveSession, SessionSpec, State};

/// Sessions started at once by [`Supervisor::start_autostart`].
const AUTOSTART_CONCURRENCY: usize = 16;

/// A lifecycle action of [`Supervisor::try_lifecycle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    Start,
    Disconnect,
    Destroy,
}

/// Why a lifecycle call did nothing or failed.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    Unknown(#[from] UnknownSession),
    /// Another lifecycle call on the session is in progress.
    #[error("session {0:?} is busy: another lifecycle action on it is in progress")]
    Busy(String),
    /// The session's network cannot do this.
    #[error("{0}")]
    WrongChannel(String),
    /// Another host runs the session (hosts sharing a database).
    #[error("session {session:?} runs on host {owner:?}: act on it there")]
    Elsewhere { session: String, owner: String },
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

impl LifecycleError {
    /// The error as `anyhow`, an unknown session staying downcastable.
    fn into_anyhow(self) -> anyhow::Error {
        match self {
            LifecycleError::Unknown(error) => error.into(),
            LifecycleError::Busy(_) | LifecycleError::WrongChannel(_) | LifecycleError::Elsewhere { .. } => {
                anyhow::Error::new(self)
            }
            LifecycleError::Failed(error) => error,
        }
    }
}

impl Supervisor {
    /// Starts every session whose config says `autostart`, up to
    /// [`AUTOSTART_CONCURRENCY`] at a time (a start mostly waits on a few
    /// database reads); failures are logged and shown in the session's
    /// status.
    pub async fn start_autostart(&self) {
        if self.store().leases().enabled() {
            if let Err(error) = self.start_by_lease().await {
                tracing::error!(error = %format!("{error:#}"), "cannot share sessions by lease; none started");
            }
            return;
        }
        let autostart = self.slots().into_iter().filter(|(_, slot)| slot.config.autostart);
        futures_util::stream::iter(autostart)
            .for_each_concurrent(AUTOSTART_CONCURRENCY, |(name, _)| async move {
                if let Err(error) = self.start(&name).await {
                    tracing::error!(session = %name, error = %format!("{error:#}"), "session did not start");
                }
            })
            .await;
    }

    /// `connect`: prepares the session (queue, channel, plugins, task)
    /// without touching the network. Idempotent.
    pub async fn connect(&self, name: &str) -> anyhow::Result<()> {
        let slot = self.slot(name)?;
        let mut live = lock_live(&slot, name, true)
            .await
            .map_err(LifecycleError::into_anyhow)?;
        if live.is_none() {
            let session = self.prepare(name, &slot, None).await?;
            slot.attach(&mut live, session);
        }
        Ok(())
    }

    /// `start`: connects the session to its network. A new account shows a
    /// QR; a stored one reconnects. Idempotent while running.
    pub async fn start(&self, name: &str) -> anyhow::Result<()> {
        self.lifecycle(name, Lifecycle::Start, true)
            .await
            .map(drop)
            .map_err(LifecycleError::into_anyhow)
    }

    /// `disconnect`: closes the connection, handles what is queued, and
    /// frees the session's task and instances. Auth is kept: `start`
    /// reconnects with no QR.
    pub async fn disconnect(&self, name: &str) -> anyhow::Result<()> {
        self.lifecycle(name, Lifecycle::Disconnect, true)
            .await
            .map(drop)
            .map_err(LifecycleError::into_anyhow)
    }

    /// `destroy`: logs the account out on the network, deletes its auth and
    /// pending timers. Only a new QR links it again. Plugin kv data stays.
    /// A run-time session is forgotten as well (its row deleted): it was
    /// defined by nothing but the API call that created it.
    pub async fn destroy(&self, name: &str) -> anyhow::Result<()> {
        self.lifecycle(name, Lifecycle::Destroy, true)
            .await
            .map(drop)
            .map_err(LifecycleError::into_anyhow)
    }

    /// Carries out `action` like [`start`](Self::start),
    /// [`disconnect`](Self::disconnect) or [`destroy`](Self::destroy), but
    /// refuses ([`LifecycleError::Busy`]) instead of waiting while another
    /// lifecycle call on the session is in progress. Returns the session as
    /// it is afterwards.
    pub async fn try_lifecycle(&self, name: &str, action: Lifecycle) -> Result<SessionInfo, LifecycleError> {
        self.lifecycle(name, action, false).await
    }

    /// `start`, linking a new WhatsApp account by a pair code for `phone`
    /// (typed on the phone) instead of a QR. A session waiting to be linked
    /// is restarted with it; a linked or connected one just starts.
    /// Refuses like [`try_lifecycle`](Self::try_lifecycle) while another
    /// lifecycle call runs.
    pub async fn try_pair_by_phone(&self, name: &str, phone: &str) -> Result<SessionInfo, LifecycleError> {
        let slot = self.slot(name)?;
        let mut live = lock_live(&slot, name, false).await?;
        if slot.config.channel != ChannelKind::Whatsapp {
            let network = slot.config.channel.as_str();
            return Err(LifecycleError::WrongChannel(format!(
                "session {name:?} is on the {network} network: pair codes are WhatsApp's"
            )));
        }
        if live.is_some() && matches!(slot.status.state(), State::Connected | State::Disconnected) {
            return Ok(self.info(name, &slot));
        }
        // A session showing QR codes is restarted to ask for a pair code.
        disconnect_locked(name, &slot, &mut live).await;
        let session = self.prepare(name, &slot, Some(phone)).await?;
        slot.attach(&mut live, session);
        tracing::info!(session = name, "starting session to link by pair code");
        live.as_ref().expect("prepared above").start().await?;
        Ok(self.info(name, &slot))
    }

    async fn lifecycle(&self, name: &str, action: Lifecycle, wait: bool) -> Result<SessionInfo, LifecycleError> {
        let slot = self.slot(name)?;
        let mut live = lock_live(&slot, name, wait).await?;
        match action {
            Lifecycle::Start => {
                self.take_lease(name).await?;
                self.start_locked(name, &slot, &mut live).await?
            }
            Lifecycle::Disconnect => {
                self.check_owner(name).await?;
                disconnect_locked(name, &slot, &mut live).await;
                self.park_lease(name).await?;
            }
            Lifecycle::Destroy => {
                self.check_owner(name).await?;
                self.destroy_locked(name, &slot, &mut live).await?;
                self.park_lease(name).await?;
            }
        }
        Ok(self.info(name, &slot))
    }

    async fn start_locked(&self, name: &str, slot: &SessionSlot, live: &mut Option<LiveSession>) -> anyhow::Result<()> {
        if live.is_some()
            && matches!(
                slot.status.state(),
                State::Starting | State::ScanQr | State::Connected | State::Disconnected
            )
        {
            return Ok(());
        }
        if live.is_none() {
            let session = self.prepare(name, slot, None).await?;
            slot.attach(live, session);
        }
        tracing::info!(session = name, "starting session");
        live.as_ref().expect("prepared above").start().await
    }

    async fn destroy_locked(
        &self,
        name: &str,
        slot: &SessionSlot,
        live: &mut Option<LiveSession>,
    ) -> anyhow::Result<()> {
        let session = match slot.detach(live) {
            Some(session) => session,
            None => self.prepare(name, slot, None).await?,
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
        if slot.origin == Origin::Api {
            self.forget(name, slot).await?;
        }
        Ok(())
    }

    /// `connect`: the session's queue, channel, chain and task, ready to
    /// start; `pair_phone` replaces the config's for this run.
    async fn prepare(&self, name: &str, slot: &SessionSlot, pair_phone: Option<&str>) -> anyhow::Result<LiveSession> {
        let host = self.inner.config.read().expect("config lock").host.clone();
        let prepared = match self.chain_of(&slot.config) {
            Ok(plugins) => {
                let spec = SessionSpec {
                    name: Arc::from(name),
                    channel: ChannelSpec {
                        kind: slot.config.channel,
                        pair_phone: pair_phone
                            .map(str::to_string)
                            .or_else(|| slot.config.pair_phone.clone()),
                    },
                    plugins,
                    queue_capacity: host.queue_capacity,
                    event_attempts: host.event_attempts,
                    journal: host.journal,
                    sends_per_minute: slot.config.sends_per_minute,
                    observer: slot.observer.clone(),
                    halt: self.inner.halt.subscribe(),
                };
                LiveSession::prepare(spec, &self.inner.deps, slot.status.clone(), slot.gauge.clone()).await
            }
            Err(error) => Err(error),
        };
        prepared.inspect_err(|error| slot.status.fail(format!("{error:#}")))
    }

    /// The session's plugins in order, each with the session's overrides.
    /// Config validation guarantees a config session's plugins are loaded;
    /// a run-time session may name a plugin the config no longer has.
    fn chain_of(&self, session: &SessionConfig) -> anyhow::Result<Vec<(Arc<PluginHandle>, Option<toml::Table>)>> {
        let plugins = self.read_plugins();
        session
            .plugins
            .iter()
            .map(|name| match plugins.get(name) {
                Some(handle) => Ok((handle.clone(), session.overrides.get(name).cloned())),
                None => Err(anyhow::anyhow!("plugin {name:?} is not in the config any more")),
            })
            .collect()
    }
}

/// Takes the session's lifecycle lock: waiting for it, or (`wait` false)
/// refusing if another call holds it.
pub(super) async fn lock_live<'s>(
    slot: &'s SessionSlot,
    name: &str,
    wait: bool,
) -> Result<MutexGuard<'s, Option<LiveSession>>, LifecycleError> {
    let live = if wait {
        slot.live.lock().await
    } else {
        slot.live
            .try_lock()
            .map_err(|_| LifecycleError::Busy(name.to_string()))?
    };
    if slot.forgotten.load(Ordering::Acquire) {
        return Err(UnknownSession(name.to_string()).into());
    }
    Ok(live)
}

pub(super) async fn disconnect_locked(name: &str, slot: &SessionSlot, live: &mut Option<LiveSession>) {
    if let Some(session) = slot.detach(live) {
        tracing::info!(session = name, "disconnecting session");
        session.close().await;
        slot.status.set_state(State::Stopped);
    }
}
