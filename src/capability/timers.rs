//! `purr:bot/timers`: persisted timers that fire `timer` events.
//!
//! A timer is a row in the `timers` table (so it survives restarts) plus an
//! entry in its session's in-memory [`SessionTimers`] queue, which the
//! session task waits on. The queue holds only (due time, id) and the
//! plugin and payload size of each timer: payloads stay in the database and
//! are read when their timer comes due, so pending timers cost the host a
//! few dozen bytes each, whatever they carry. A due timer is delivered to
//! the plugin that scheduled it, in its session, and its row is deleted
//! with the event's completion (`session::task`), so a crash in between
//! fires it again after restart (at least once).
//! Overdue timers (the host was down) fire as soon as the session runs.
//!
//! A sandboxed run (`purr replay`, a shadow) gets [`SessionTimers::sandboxed`]:
//! a copy of the session's pending timers whose schedules and cancels stay
//! in memory and never fire, so quotas behave as live and nothing is stored.
//!
//! Quotas, per plugin and session (`max_timers`, `max_timer_payload_bytes`,
//! `max_timer_bytes`): a `schedule` over one is refused with an error the
//! plugin sees, counted in `purr_quota_exceeded_total`; nothing is stored.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use wasmtime::component::{HasSelf, Linker};

use crate::config::PluginQuotas;
use crate::observe::Metrics;
use crate::plugin::PluginState;
use crate::plugin::bindings::purr::bot::timers::{self as wit, Host};
use crate::store::{Store, TimerRow};
use crate::util::now_ms;

/// How long `next_due` waits before trying again when the database could
/// not give a due timer's payload.
const RETRY_READ: Duration = Duration::from_secs(1);

/// The pending timers of one session, shared by its task and its instances.
#[derive(Clone)]
pub struct SessionTimers {
    /// Where the timers are kept; `None` for a sandbox's copy (memory only).
    store: Option<Store>,
    session: Arc<str>,
    queue: Arc<Mutex<Queue>>,
    changed: Arc<Notify>,
}

/// A pending timer as the queue keeps it: no payload.
struct Pending {
    plugin: Arc<str>,
    payload_bytes: u64,
}

#[derive(Default)]
struct Queue {
    /// Pending timers by (due time, id).
    pending: BTreeMap<(i64, String), Pending>,
    /// Per plugin: pending timers and their payload bytes.
    usage: HashMap<Arc<str>, Usage>,
}

/// What one plugin has pending in the session.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub timers: u64,
    pub payload_bytes: u64,
}

impl Queue {
    fn insert(&mut self, due_at_ms: i64, id: String, plugin: &str, payload_bytes: u64) {
        let plugin = match self.usage.get_key_value(plugin) {
            Some((name, _)) => name.clone(),
            None => Arc::from(plugin),
        };
        let usage = self.usage.entry(plugin.clone()).or_default();
        usage.timers += 1;
        usage.payload_bytes += payload_bytes;
        self.pending.insert((due_at_ms, id), Pending { plugin, payload_bytes });
    }

    fn remove(&mut self, key: &(i64, String)) -> Option<Pending> {
        let pending = self.pending.remove(key)?;
        if let Some(usage) = self.usage.get_mut(&pending.plugin) {
            usage.timers -= 1;
            usage.payload_bytes -= pending.payload_bytes;
            if usage.timers == 0 {
                self.usage.remove(&pending.plugin);
            }
        }
        Some(pending)
    }
}

impl SessionTimers {
    /// Loads the session's pending timers (without payloads) from the database.
    pub async fn load(store: Store, session: Arc<str>) -> anyhow::Result<Self> {
        let mut queue = Queue::default();
        for entry in store.timer_entries(&session).await? {
            queue.insert(entry.due_at_ms, entry.id, &entry.plugin, entry.payload_bytes as u64);
        }
        Ok(SessionTimers {
            store: Some(store),
            session,
            queue: Arc::new(Mutex::new(queue)),
            changed: Arc::new(Notify::new()),
        })
    }

    /// A sandbox's copy of the session's pending timers: read from the
    /// database now, then changed in memory only; none ever comes due.
    pub async fn sandboxed(store: &Store, session: Arc<str>) -> anyhow::Result<Self> {
        let mut copy = Self::load(store.clone(), session).await?;
        copy.store = None;
        Ok(copy)
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
        if let Some(store) = &self.store {
            store.timer_insert(&row).await?;
        }
        let TimerRow {
            id, due_at_ms, payload, ..
        } = row;
        self.lock().insert(due_at_ms, id.clone(), plugin, payload.len() as u64);
        self.changed.notify_one();
        Ok(id)
    }

    /// How many timers `plugin` has pending.
    pub fn pending_of(&self, plugin: &str) -> usize {
        self.usage_of(plugin).timers as usize
    }

    /// What `plugin` has pending: timers and payload bytes.
    pub fn usage_of(&self, plugin: &str) -> Usage {
        self.lock().usage.get(plugin).copied().unwrap_or_default()
    }

    /// Cancels `plugin`'s timer `id`; returns whether it was pending.
    pub async fn cancel(&self, plugin: &str, id: &str) -> anyhow::Result<bool> {
        let deleted = match &self.store {
            Some(store) => Some(store.timer_delete(&self.session, plugin, id).await?),
            None => None,
        };
        let mut queue = self.lock();
        let key = queue
            .pending
            .iter()
            .find(|((_, key), pending)| key == id && &*pending.plugin == plugin)
            .map(|(key, _)| key.clone());
        let queued = key.is_some_and(|key| queue.remove(&key).is_some());
        // The database says what was pending; a sandbox's copy has only its queue.
        Ok(deleted.unwrap_or(queued))
    }

    /// Waits for the next timer to come due, reads its payload from the
    /// database and takes it off the queue.
    ///
    /// Cancel-safe: a timer is only taken when the future completes. A
    /// sandbox's timers never come due.
    pub async fn next_due(&self) -> TimerRow {
        let Some(store) = &self.store else {
            return std::future::pending().await;
        };
        loop {
            let changed = self.changed.notified();
            let (next, due_now) = {
                let queue = self.lock();
                match queue.pending.first_key_value() {
                    Some((key, _)) => (Some(key.clone()), key.0 <= now_ms() as i64),
                    None => (None, false),
                }
            };
            match next {
                Some(key) if due_now => {
                    if let Some(row) = self.take(store, &key).await {
                        return row;
                    }
                }
                Some((due_at, _)) => {
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

    /// Reads due timer `key` from the database and takes it off the queue;
    /// `None` if it is gone (cancelled meanwhile) or could not be read yet.
    async fn take(&self, store: &Store, key: &(i64, String)) -> Option<TimerRow> {
        match store.timer_get(&self.session, &key.1).await {
            Ok(Some(row)) => self.lock().remove(key).map(|_| row),
            Ok(None) => {
                // Deleted behind the queue's back (`clear`, a cancel in flight).
                self.lock().remove(key);
                None
            }
            Err(error) => {
                tracing::error!(session = &*self.session, timer = %key.1, error = %format!("{error:#}"), "cannot read a due timer; retrying");
                tokio::time::sleep(RETRY_READ).await;
                None
            }
        }
    }

    /// Forgets every timer of the session, in memory and in the database.
    pub async fn clear(&self) -> anyhow::Result<()> {
        if let Some(store) = &self.store {
            store.timers_delete_session(&self.session).await?;
        }
        *self.lock() = Queue::default();
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().expect("timer queue lock")
    }
}

/// The timers capability of one instance.
pub struct Timers {
    timers: SessionTimers,
    plugin: Arc<str>,
    quotas: Arc<PluginQuotas>,
}

impl Timers {
    pub fn new(timers: SessionTimers, plugin: Arc<str>, quotas: Arc<PluginQuotas>) -> Self {
        Timers { timers, plugin, quotas }
    }

    /// The refusal of a `schedule` of `payload_bytes` if it goes over a quota.
    fn over_quota(&self, payload_bytes: u64) -> Option<(&'static str, String)> {
        let quotas = &self.quotas;
        if payload_bytes > quotas.timer_payload_bytes {
            return Some((
                "max_timer_payload_bytes",
                format!(
                    "timers quota: a payload of {payload_bytes} bytes is over the {} byte limit",
                    quotas.timer_payload_bytes
                ),
            ));
        }
        let usage = self.timers.usage_of(&self.plugin);
        if usage.timers >= quotas.timers {
            return Some((
                "max_timers",
                format!("timers quota: {} timers already pending", quotas.timers),
            ));
        }
        let after = usage.payload_bytes + payload_bytes;
        if after > quotas.timer_total_bytes {
            return Some((
                "max_timer_bytes",
                format!(
                    "timers quota: pending payloads would take {after} bytes, over the {} byte limit",
                    quotas.timer_total_bytes
                ),
            ));
        }
        None
    }
}

impl Host for Timers {
    async fn schedule(&mut self, after_ms: u64, payload: String) -> wasmtime::Result<Result<String, String>> {
        if let Some((quota, refusal)) = self.over_quota(payload.len() as u64) {
            Metrics::quota_exceeded(&self.timers.session, &self.plugin, quota);
            return Ok(Err(refusal));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::with_db;

    #[tokio::test]
    async fn the_queue_holds_sizes_and_a_due_timer_s_payload_comes_from_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("data")).await.unwrap();
        let session: Arc<str> = Arc::from("s");
        let timers = SessionTimers::load(store.clone(), session.clone()).await.unwrap();
        let id = timers.schedule("p", 0, "scheduled".into()).await.unwrap();
        timers.schedule("p", 3_600_000, "later".into()).await.unwrap();
        timers.schedule("q", 3_600_000, "other".into()).await.unwrap();
        let usage = Usage {
            timers: 2,
            payload_bytes: 14,
        };
        assert_eq!(timers.usage_of("p"), usage);

        // A new run reads the same usage without the payloads.
        let timers = SessionTimers::load(store.clone(), session).await.unwrap();
        assert_eq!(timers.usage_of("p"), usage);
        with_db!(store.db(), |pool| sqlx::query(
            "UPDATE timers SET payload = 'changed' WHERE id = $1"
        )
        .bind(&id)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .unwrap();
        let due = timers.next_due().await;
        assert_eq!((due.id.as_str(), due.payload.as_str()), (id.as_str(), "changed"));
        assert_eq!(timers.usage_of("p").timers, 1);
        assert!(timers.cancel("q", &timers_id_of(&store, "q").await).await.unwrap());
        assert_eq!(timers.usage_of("q"), Usage::default());
    }

    async fn timers_id_of(store: &Store, plugin: &str) -> String {
        with_db!(store.db(), |pool| sqlx::query_scalar(
            "SELECT id FROM timers WHERE plugin = $1"
        )
        .bind(plugin)
        .fetch_one(pool)
        .await)
        .unwrap()
    }
}
