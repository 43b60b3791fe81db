//! `purr:bot/timers`: persisted timers that fire `timer` events.
//!
//! A timer is a row in the `timers` table (so it survives restarts) plus an
//! entry in its session's in-memory [`SessionTimers`] queue, which the
//! session task waits on. A due timer is delivered to the plugin that
//! scheduled it, in its session, and its row is deleted with the event's
//! completion (`session::task`), so a crash in between fires it again after
//! restart (at least once).
//! Overdue timers (the host was down) fire as soon as the session runs.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use wasmtime::component::{HasSelf, Linker};

use crate::plugin::PluginState;
use crate::plugin::bindings::purr::bot::timers::{self as wit, Host};
use crate::store::{Store, TimerRow};
use crate::util::now_ms;

/// The pending timers of one session, shared by its task and its instances.
#[derive(Clone)]
pub struct SessionTimers {
    store: Store,
    session: Arc<str>,
    /// Pending timers by (due time, id).
    pending: Arc<Mutex<BTreeMap<(i64, String), TimerRow>>>,
    changed: Arc<Notify>,
}

impl SessionTimers {
    /// Loads the session's pending timers from the database.
    pub async fn load(store: Store, session: Arc<str>) -> anyhow::Result<Self> {
        let rows = store.timers_of_session(&session).await?;
        let pending = rows
            .into_iter()
            .map(|row| ((row.due_at_ms, row.id.clone()), row))
            .collect();
        Ok(SessionTimers {
            store,
            session,
            pending: Arc::new(Mutex::new(pending)),
            changed: Arc::new(Notify::new()),
        })
    }

    /// Persists a timer for `plugin` due `after_ms` from now; returns its id.
    pub async fn schedule(&self, plugin: &str, after_ms: u64, payload: String) -> anyhow::Result<String> {
        let row = TimerRow {
            id: format!("{:016x}", rand::random::<u64>()),
            session: self.session.to_string(),
            plugin: plugin.to_string(),
            due_at_ms: (now_ms().saturating_add(after_ms)).min(i64::MAX as u64) as i64,
            payload,
        };
        self.store.timer_insert(&row).await?;
        let id = row.id.clone();
        self.lock().insert((row.due_at_ms, row.id.clone()), row);
        self.changed.notify_one();
        Ok(id)
    }

    /// How many timers `plugin` has pending.
    pub fn pending_of(&self, plugin: &str) -> usize {
        self.lock().values().filter(|row| row.plugin == plugin).count()
    }

    /// Cancels `plugin`'s timer `id`; returns whether it was pending.
    pub async fn cancel(&self, plugin: &str, id: &str) -> anyhow::Result<bool> {
        let deleted = self.store.timer_delete(&self.session, plugin, id).await?;
        if deleted {
            self.lock().retain(|(_, key), row| !(key == id && row.plugin == plugin));
        }
        Ok(deleted)
    }

    /// Waits for the next timer to come due and takes it off the queue.
    ///
    /// Cancel-safe: a timer is only taken when the future completes.
    pub async fn next_due(&self) -> TimerRow {
        loop {
            let changed = self.changed.notified();
            let next_due_at = {
                let mut pending = self.lock();
                match pending.first_key_value() {
                    Some(((due_at, _), _)) if *due_at <= now_ms() as i64 => {
                        return pending.pop_first().expect("first entry exists").1;
                    }
                    Some(((due_at, _), _)) => Some(*due_at),
                    None => None,
                }
            };
            match next_due_at {
                Some(due_at) => {
                    let wait = Duration::from_millis((due_at - now_ms() as i64).max(0) as u64);
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }

    /// Forgets every timer of the session, in memory and in the database.
    pub async fn clear(&self) -> anyhow::Result<()> {
        self.store.timers_delete_session(&self.session).await?;
        self.lock().clear();
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(i64, String), TimerRow>> {
        self.pending.lock().expect("timer queue lock")
    }
}

/// The timers capability of one instance.
pub struct Timers {
    timers: SessionTimers,
    plugin: Arc<str>,
    /// Pending timers the plugin may have in this session (`max_timers`).
    max_pending: u64,
}

impl Timers {
    pub fn new(timers: SessionTimers, plugin: Arc<str>, max_pending: u64) -> Self {
        Timers {
            timers,
            plugin,
            max_pending,
        }
    }
}

impl Host for Timers {
    async fn schedule(&mut self, after_ms: u64, payload: String) -> wasmtime::Result<Result<String, String>> {
        if self.timers.pending_of(&self.plugin) as u64 >= self.max_pending {
            return Ok(Err(format!(
                "timers quota: {} timers already pending",
                self.max_pending
            )));
        }
        Ok(self
            .timers
            .schedule(&self.plugin, after_ms, payload)
            .await
            .map_err(|e| format!("timers schedule failed: {e:#}")))
    }

    async fn cancel(&mut self, id: String) -> wasmtime::Result<Result<bool, String>> {
        Ok(self
            .timers
            .cancel(&self.plugin, &id)
            .await
            .map_err(|e| format!("timers cancel failed: {e:#}")))
    }
}

pub fn add_to_linker(linker: &mut Linker<PluginState>) -> anyhow::Result<()> {
    wit::add_to_linker::<PluginState, HasSelf<Timers>>(linker, |state| &mut state.timers)?;
    Ok(())
}
