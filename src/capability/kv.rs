//! `purr:bot/kv`: key/value data private to one plugin in one session.
//!
//! Rows live in the database's `plugin_kv` table keyed by (plugin, session,
//! key); the scope is fixed when the instance is made, so a guest cannot
//! reach another plugin's or another session's data.
//!
//! Writes are part of the event: a `set` or `delete` goes into the
//! session's [`SessionKv`] and is committed with the event's completion (the
//! same transaction that marks it done and queues its sends), so an event
//! replayed after a crash finds the data as it was before it ran, and a
//! failed attempt leaves nothing behind. Only the session's own task writes
//! its rows, so the values it has read or written are kept in memory and
//! served from there; later events see earlier events' writes at once.
//!
//! Quotas (`max_kv_value_bytes`, `max_kv_bytes`, `max_kv_key_bytes` in the
//! plugin's config) bound what one plugin stores in one session: a `set`
//! over one is refused with an error the plugin sees, counted in
//! `purr_quota_exceeded_total`; nothing is written. A key (or `list-keys`
//! prefix) over `max_kv_key_bytes` is refused by every call, so the view
//! (which remembers the keys it was asked for) never holds a long one.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use wasmtime::component::{HasSelf, Linker};

use crate::config::PluginQuotas;
use crate::observe::Metrics;
use crate::plugin::PluginState;
use crate::plugin::bindings::purr::bot::kv::{self as wit, Host};
use crate::store::{KvWrite, Store};

/// Keys held in memory per session before the view is dropped (after the
/// queued writes are committed) and rebuilt from the database.
pub const KV_VIEW_LIMIT: usize = 50_000;

/// A session's kv view: the current event's writes, and what this run has
/// read or written (committed or queued for commit).
#[derive(Clone, Default)]
pub struct SessionKv(Arc<Mutex<KvView>>);

type Slot = (Arc<str>, String);

#[derive(Default)]
struct KvView {
    /// Values known this run; `None`: the key does not exist.
    known: HashMap<Slot, Option<Vec<u8>>>,
    /// The current event's writes, latest per key, and their order.
    pending: HashMap<Slot, Option<Vec<u8>>>,
    order: Vec<Slot>,
    /// Bytes each plugin stores (known once it first writes this run),
    /// with the current event's writes, and as it was when the event began.
    usage: HashMap<Arc<str>, u64>,
    usage_at_begin: HashMap<Arc<str>, u64>,
}

impl SessionKv {
    /// Starts an event (or a new attempt): forgets writes not taken.
    pub fn begin(&self) {
        let mut view = self.lock();
        view.pending.clear();
        view.order.clear();
        let view = &mut *view;
        view.usage.clone_from(&view.usage_at_begin);
    }

    /// The current event's writes, to commit with its completion; from now
    /// on they are part of what later events see.
    pub fn take(&self) -> Vec<KvWrite> {
        let mut view = self.lock();
        let order = std::mem::take(&mut view.order);
        let mut writes = Vec::with_capacity(order.len());
        for slot in order {
            if let Some(value) = view.pending.remove(&slot) {
                writes.push(KvWrite {
                    plugin: slot.0.to_string(),
                    key: slot.1.clone(),
                    value: value.clone(),
                });
                view.known.insert(slot, value);
            }
        }
        let view = &mut *view;
        view.usage_at_begin.clone_from(&view.usage);
        writes
    }

    /// Whether the view has grown past [`KV_VIEW_LIMIT`] keys.
    pub fn oversized(&self) -> bool {
        self.lock().known.len() > KV_VIEW_LIMIT
    }

    /// Drops what is known (call only once every taken write is committed).
    pub fn forget(&self) {
        let mut view = self.lock();
        view.known.clear();
        view.usage.clear();
        view.usage_at_begin.clear();
    }

    /// The value as this run sees it: `None` if it must be read from the database.
    fn lookup(&self, slot: &Slot) -> Option<Option<Vec<u8>>> {
        let view = self.lock();
        view.pending.get(slot).or_else(|| view.known.get(slot)).cloned()
    }

    fn remember(&self, slot: Slot, value: Option<Vec<u8>>) {
        self.lock().known.entry(slot).or_insert(value);
    }

    fn write(&self, slot: Slot, value: Option<Vec<u8>>) {
        let mut view = self.lock();
        if view.pending.insert(slot.clone(), value).is_none() {
            view.order.push(slot);
        } else if let Some(at) = view.order.iter().position(|s| *s == slot) {
            // Keep the order of the latest write.
            let slot = view.order.remove(at);
            view.order.push(slot);
        }
    }

    /// Keys under `prefix` this run has written (present) and deleted.
    fn overlay(&self, plugin: &Arc<str>, prefix: &str) -> (Vec<String>, Vec<String>) {
        let view = self.lock();
        let (mut present, mut deleted) = (Vec::new(), Vec::new());
        let mut seen = BTreeSet::new();
        for ((p, key), value) in view.pending.iter().chain(view.known.iter()) {
            if p != plugin || !key.starts_with(prefix) || !seen.insert(key.clone()) {
                continue;
            }
            match value {
                Some(_) => present.push(key.clone()),
                None => deleted.push(key.clone()),
            }
        }
        (present, deleted)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, KvView> {
        self.0.lock().expect("session kv lock")
    }
}

/// The kv capability of one instance.
pub struct Kv {
    store: Store,
    view: SessionKv,
    plugin: Arc<str>,
    session: Arc<str>,
    quotas: Arc<PluginQuotas>,
}

impl Kv {
    pub fn new(store: Store, view: SessionKv, plugin: Arc<str>, session: Arc<str>, quotas: Arc<PluginQuotas>) -> Self {
        Kv {
            store,
            view,
            plugin,
            session,
            quotas,
        }
    }

    fn slot(&self, key: &str) -> Slot {
        (self.plugin.clone(), key.to_string())
    }

    async fn read(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let slot = self.slot(key);
        if let Some(value) = self.view.lookup(&slot) {
            return Ok(value);
        }
        let value = self.store.kv_get(&self.plugin, &self.session, key).await?;
        self.view.remember(slot, value.clone());
        Ok(value)
    }

    /// Bytes the plugin stores now (from the database the first time).
    async fn usage(&self) -> anyhow::Result<u64> {
        if let Some(used) = self.view.lock().usage.get(&self.plugin) {
            return Ok(*used);
        }
        let used = self.store.kv_usage(&self.plugin, &self.session).await?;
        let mut view = self.view.lock();
        view.usage.insert(self.plugin.clone(), used);
        view.usage_at_begin.insert(self.plugin.clone(), used);
        Ok(used)
    }

    /// Counts a refusal over `quota` and returns it.
    fn refuse<T>(&self, quota: &'static str, refusal: String) -> Result<T, String> {
        Metrics::quota_exceeded(&self.session, &self.plugin, quota);
        Err(refusal)
    }

    /// Refuses a key (or prefix) over `max_kv_key_bytes`, or holding NUL
    /// (which PostgreSQL text cannot store; refused on SQLite too, so a
    /// plugin behaves the same on both).
    fn check_key(&self, op: &str, key: &str) -> Result<(), String> {
        if key.contains('\0') {
            return Err(format!("kv {op}: a key may not contain NUL (U+0000)"));
        }
        if key.len() as u64 > self.quotas.kv_key_bytes {
            return self.refuse(
                "max_kv_key_bytes",
                format!(
                    "kv {op}: kv quota: a key of {} bytes is over the {} byte limit",
                    key.len(),
                    self.quotas.kv_key_bytes
                ),
            );
        }
        Ok(())
    }

    /// Records a write if the quotas allow it.
    async fn set_within_quota(&mut self, key: &str, value: Vec<u8>) -> anyhow::Result<Result<(), String>> {
        if let Err(refusal) = self.check_key("set", key) {
            return Ok(Err(refusal));
        }
        let value_bytes = value.len() as u64;
        if value_bytes > self.quotas.kv_value_bytes {
            return Ok(self.refuse(
                "max_kv_value_bytes",
                format!(
                    "kv quota: a value of {value_bytes} bytes is over the {} byte limit",
                    self.quotas.kv_value_bytes
                ),
            ));
        }
        let used = self.usage().await?;
        let replaced = self.read(key).await?.map_or(0, |old| key.len() + old.len()) as u64;
        let after = used - replaced.min(used) + key.len() as u64 + value_bytes;
        if after > self.quotas.kv_total_bytes && after > used {
            return Ok(self.refuse(
                "max_kv_bytes",
                format!(
                    "kv quota: storing this would use {after} bytes, over the {} byte limit",
                    self.quotas.kv_total_bytes
                ),
            ));
        }
        self.view.write(self.slot(key), Some(value));
        self.view.lock().usage.insert(self.plugin.clone(), after);
        Ok(Ok(()))
    }

    async fn delete_key(&mut self, key: &str) -> anyhow::Result<bool> {
        let Some(old) = self.read(key).await? else {
            return Ok(false);
        };
        let used = self.usage().await?;
        self.view.write(self.slot(key), None);
        let freed = (key.len() + old.len()) as u64;
        self.view
            .lock()
            .usage
            .insert(self.plugin.clone(), used.saturating_sub(freed));
        Ok(true)
    }

    async fn keys(&self, prefix: &str) -> anyhow::Result<Vec<String>> {
        let stored = self.store.kv_list(&self.plugin, &self.session, prefix).await?;
        let (present, deleted) = self.view.overlay(&self.plugin, prefix);
        let mut keys: BTreeSet<String> = stored.into_iter().chain(present).collect();
        for key in deleted {
            keys.remove(&key);
        }
        Ok(keys.into_iter().collect())
    }

    /// Turns a storage failure into the guest's error string, logging the details.
    fn guest_error(&self, op: &str, error: anyhow::Error) -> String {
        tracing::warn!(session = &*self.session, plugin = &*self.plugin, op, error = %format!("{error:#}"), "kv operation failed");
        format!("kv {op} failed: storage unavailable")
    }
}

impl Host for Kv {
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, String>> {
        if let Err(refusal) = self.check_key("get", &key) {
            return Ok(Err(refusal));
        }
        let result = self.read(&key).await;
        Ok(result.map_err(|e| self.guest_error("get", e)))
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), String>> {
        let result = self.set_within_quota(&key, value).await;
        Ok(result.unwrap_or_else(|e| Err(self.guest_error("set", e))))
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<Result<bool, String>> {
        if let Err(refusal) = self.check_key("delete", &key) {
            return Ok(Err(refusal));
        }
        let result = self.delete_key(&key).await;
        Ok(result.map_err(|e| self.guest_error("delete", e)))
    }

    async fn list_keys(&mut self, prefix: String) -> wasmtime::Result<Result<Vec<String>, String>> {
        if let Err(refusal) = self.check_key("list-keys", &prefix) {
            return Ok(Err(refusal));
        }
        let result = self.keys(&prefix).await;
        Ok(result.map_err(|e| self.guest_error("list-keys", e)))
    }
}

pub fn add_to_linker(linker: &mut Linker<PluginState>) -> anyhow::Result<()> {
    wit::add_to_linker::<PluginState, HasSelf<Kv>>(linker, |state| &mut state.kv)?;
    Ok(())
}
