//! This host's share of the sessions when several hosts share a PostgreSQL
//! database: the lease loop takes free and expired leases (up to a fair
//! share of the live hosts, and `max_sessions`), hands sessions over when
//! it holds more than its share (a host joined), renews the ones held,
//! stops a session here the moment its lease is lost, and a clean stop
//! hands every lease back so the other hosts take them on their next tick.
//! See `store/lease.rs` for the leases and the fencing of writes.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{LifecycleError, Supervisor};
use crate::config::HostConfig;

/// Leases taken in one tick at most (a host joining a busy cluster ramps up).
const TAKE_PER_TICK: i64 = 64;

/// The lease timings of the config.
#[derive(Clone, Copy)]
struct Timing {
    renew: Duration,
    expiry: Duration,
}

impl Timing {
    /// How long a lease renewed now may be trusted here: the expiry less a
    /// renew interval, so the host stops acting before anyone can take over.
    fn trusted(self) -> Duration {
        self.expiry.saturating_sub(self.renew)
    }
}

impl Supervisor {
    /// A value of the `[host]` table in force (without copying the config).
    fn host_config<T>(&self, read: impl FnOnce(&HostConfig) -> T) -> T {
        read(&self.inner.config.read().expect("config lock").host)
    }

    fn timing(&self) -> Timing {
        self.host_config(|host| Timing {
            renew: Duration::from_millis(host.lease_renew_ms),
            expiry: Duration::from_millis(host.lease_expiry_ms),
        })
    }

    /// This host's `[host] id`.
    pub(super) fn host_id(&self) -> String {
        self.host_config(|host| host.id.clone())
    }

    /// Gives `leases` back for the other hosts to take (the sessions run
    /// on): this host no longer renews them or sends for them. False when
    /// the database did not take it (the leases then expire).
    async fn give_back(&self, leases: &[(String, i64)]) -> bool {
        for (session, _) in leases {
            self.store().leases().drop_lease(session);
        }
        match self.store().leases_release(&self.host_id(), leases, true).await {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(sessions = leases.len(), error = %format!("{error:#}"), "leases not released; they expire");
                false
            }
        }
    }

    /// On a shared database, `start_autostart`: registers the autostart
    /// sessions as to run, then leaves starting them to the lease loop,
    /// which runs for the life of the host. Its first take waits one renew
    /// interval, so hosts started together see each other and share.
    pub(super) async fn start_by_lease(&self) -> anyhow::Result<()> {
        let autostart: Vec<String> = (self.slots().into_iter())
            .filter(|(_, slot)| slot.config.autostart)
            .map(|(name, _)| name)
            .collect();
        let names: Vec<&str> = autostart.iter().map(String::as_str).collect();
        let store = self.store();
        store.leases_register(&names).await?;
        let timing = self.timing();
        store.host_heartbeat(&self.host_id(), timing.expiry).await?;
        tracing::info!(host = %self.host_id(), sessions = names.len(), "sharing sessions by lease");
        let supervisor = self.clone();
        let mut halt = self.inner.halt.subscribe();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(timing.renew);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    _ = halt.wait_for(|halted| *halted) => return,
                }
                if supervisor.inner.stopping.load(Ordering::Acquire) {
                    return;
                }
                match supervisor.lease_tick(timing).await {
                    Ok(()) => supervisor.inner.leases_taken.store(true, Ordering::Release),
                    Err(error) => tracing::warn!(error = %format!("{error:#}"), "lease renewal failed; retrying"),
                }
            }
        });
        Ok(())
    }

    /// One round: heartbeat, renew, stop what was lost, take a fair share.
    async fn lease_tick(&self, timing: Timing) -> anyhow::Result<()> {
        let store = self.store();
        let leases = store.leases();
        let host = self.host_id();
        let sent = Instant::now();
        let held = leases.held();
        let renewed = async {
            let hosts = store.host_heartbeat(&host, timing.expiry).await?;
            let kept = store.leases_renew(&host, &held, timing.expiry).await?;
            anyhow::Ok((hosts, kept))
        }
        .await;
        // Unrenewed leases stay trusted until their own time runs out.
        let (hosts, kept) = match renewed {
            Ok((hosts, kept)) => {
                leases.renewed(&kept, sent, timing.trusted());
                (hosts, kept.into_iter().collect::<BTreeSet<_>>())
            }
            Err(error) => {
                self.stop_lost(&held, |session| leases.fence(session).is_some()).await;
                return Err(error);
            }
        };
        self.stop_lost(&held, |session| {
            kept.contains(session) && leases.fence(session).is_some()
        })
        .await;

        let running = store.leases_running().await?;
        let share = (running + hosts.max(1) - 1) / hosts.max(1);
        let share = match self.host_config(|host| host.max_sessions) {
            Some(max) => share.min(max as i64),
            None => share,
        };
        let held = leases.held().len() as i64;
        if held > share {
            self.hand_over(((held - share).min(TAKE_PER_TICK)) as usize);
            return Ok(());
        }
        let want = (share - held).min(TAKE_PER_TICK);
        if want <= 0 {
            return Ok(());
        }
        let taken = store.leases_take_free(&host, want, timing.expiry).await?;
        for (session, fence) in &taken {
            leases.hold(session, *fence, sent, timing.trusted());
            tracing::info!(session = %session, fence, "lease taken");
        }
        for (session, fence) in taken {
            let supervisor = self.clone();
            tokio::spawn(async move {
                if let Err(error) = supervisor.start_leased(&session).await {
                    tracing::error!(session = %session, error = %format!("{error:#}"), "leased session did not start");
                    supervisor.give_back(&[(session, fence)]).await;
                }
            });
        }
        Ok(())
    }

    /// Gives `count` sessions back for the other hosts to take: more hosts
    /// are alive than when this one took its share (a host joined or came
    /// back). Each session stops taking events, finishes what it had
    /// (its sends wait in the outbox for the next host), and its lease is
    /// released to run on.
    fn hand_over(&self, count: usize) {
        let leases = self.store().leases();
        let mut held = leases.held();
        held.sort();
        for (session, fence) in held.split_off(held.len() - count.min(held.len())) {
            // Not renewed from now on, and nothing more is sent here.
            leases.drop_lease(&session);
            tracing::info!(session = %session, fence, "handing the session over to another host");
            let supervisor = self.clone();
            tokio::spawn(async move {
                if let Ok(slot) = supervisor.slot(&session) {
                    let mut live = slot.live.lock().await;
                    super::disconnect_locked(&session, &slot, &mut live).await;
                }
                if let Err(error) = supervisor.store().writer().barrier().await {
                    tracing::warn!(session = %session, %error, "writes not committed before the hand-over");
                }
                supervisor.give_back(&[(session, fence)]).await;
            });
        }
    }

    /// A session whose lease this host just took: a run-time session made
    /// on another host is loaded first.
    async fn start_leased(&self, session: &str) -> anyhow::Result<()> {
        if self.slot(session).is_err() {
            self.load_runtime_sessions().await?;
        }
        self.start(session).await
    }

    /// Stops, here, each held session `keep` rejects: another host runs it
    /// now, so this one writes and sends nothing more for it.
    async fn stop_lost(&self, held: &[(String, i64)], keep: impl Fn(&str) -> bool) {
        for (session, fence) in held {
            // A lease given back meanwhile (`disconnect`) is not lost.
            if keep(session) || !self.store().leases().holds(session, *fence) {
                continue;
            }
            self.store().leases().drop_lease(session);
            tracing::warn!(session = %session, fence, "lease lost: another host runs this session now; stopping it here");
            let Ok(slot) = self.slot(session) else { continue };
            let mut live = slot.live.lock().await;
            if let Some(running) = slot.detach(&mut live) {
                running.close().await;
            }
            slot.status.fail(format!(
                "lease lost: another host runs session {session:?} now (this host held fence {fence})"
            ));
        }
    }

    /// Before `start` on a shared database: takes the session's lease
    /// unless this host holds it. Refused while another host runs it.
    pub(super) async fn take_lease(&self, name: &str) -> Result<(), LifecycleError> {
        let leases = self.store().leases();
        if !leases.enabled() || leases.fence(name).is_some() {
            return Ok(());
        }
        let timing = self.timing();
        let sent = Instant::now();
        match self.store().lease_take(&self.host_id(), name, timing.expiry).await? {
            Ok(fence) => {
                leases.hold(name, fence, sent, timing.trusted());
                Ok(())
            }
            Err(owner) => Err(LifecycleError::Elsewhere {
                session: name.to_string(),
                owner,
            }),
        }
    }

    /// Refuses a lifecycle action on a session another host runs.
    pub(super) async fn check_owner(&self, name: &str) -> Result<(), LifecycleError> {
        let leases = self.store().leases();
        if !leases.enabled() || leases.fence(name).is_some() {
            return Ok(());
        }
        match self.store().lease_owner(name).await? {
            Some(owner) if owner != self.host_id() => Err(LifecycleError::Elsewhere {
                session: name.to_string(),
                owner,
            }),
            _ => Ok(()),
        }
    }

    /// After `disconnect`/`destroy` on a shared database: gives the lease
    /// up and marks the session not to run anywhere.
    pub(super) async fn park_lease(&self, name: &str) -> anyhow::Result<()> {
        let leases = self.store().leases();
        if !leases.enabled() {
            return Ok(());
        }
        leases.drop_lease(name);
        self.store().lease_park(&self.host_id(), name).await
    }

    /// On a clean stop, after the sessions are closed and their writes
    /// committed: hands every lease back at once.
    pub(super) async fn release_leases(&self) {
        let leases = self.store().leases();
        let held = leases.held();
        if !leases.enabled() || held.is_empty() {
            return;
        }
        if self.give_back(&held).await {
            tracing::info!(sessions = held.len(), "leases released for the other hosts");
        }
    }
}
