//! `purr:bot/kv`: key/value data private to one plugin in one session.
//!
//! Rows live in the database's `plugin_kv` table keyed by (plugin, session,
//! key); the scope is fixed when the instance is made, so a guest cannot
//! reach another plugin's or another session's data.
//!
//! Quotas (`max_kv_value_bytes`, `max_kv_bytes` in the plugin's config)
//! bound what one plugin stores in one session: a `set` over either is
//! refused with an error the plugin sees; nothing is written.

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use crate::config::PluginQuotas;
use crate::plugin::PluginState;
use crate::plugin::bindings::purr::bot::kv::{self as wit, Host};
use crate::store::Store;

/// The kv capability of one instance.
pub struct Kv {
    store: Store,
    plugin: Arc<str>,
    session: Arc<str>,
    quotas: PluginQuotas,
    /// Bytes stored so far, read from the database on the first `set`.
    used: Option<u64>,
}

impl Kv {
    pub fn new(store: Store, plugin: Arc<str>, session: Arc<str>, quotas: PluginQuotas) -> Self {
        Kv {
            store,
            plugin,
            session,
            quotas,
            used: None,
        }
    }

    /// Stores `value` if the quotas allow it.
    async fn set_within_quota(&mut self, key: &str, value: &[u8]) -> anyhow::Result<Result<(), String>> {
        let value_bytes = value.len() as u64;
        if value_bytes > self.quotas.kv_value_bytes {
            return Ok(Err(format!(
                "kv quota: a value of {value_bytes} bytes is over the {} byte limit",
                self.quotas.kv_value_bytes
            )));
        }
        let used = match self.used {
            Some(used) => used,
            None => self.store.kv_usage(&self.plugin, &self.session).await?,
        };
        let replaced = self
            .store
            .kv_entry_size(&self.plugin, &self.session, key)
            .await?
            .unwrap_or(0);
        let after = used - replaced.min(used) + key.len() as u64 + value_bytes;
        if after > self.quotas.kv_total_bytes && after > used {
            self.used = Some(used);
            return Ok(Err(format!(
                "kv quota: storing this would use {after} bytes, over the {} byte limit",
                self.quotas.kv_total_bytes
            )));
        }
        self.store.kv_set(&self.plugin, &self.session, key, value).await?;
        self.used = Some(after);
        Ok(Ok(()))
    }

    /// Turns a storage failure into the guest's error string, logging the details.
    fn guest_error(&self, op: &str, error: anyhow::Error) -> String {
        tracing::warn!(session = &*self.session, plugin = &*self.plugin, op, error = %format!("{error:#}"), "kv operation failed");
        format!("kv {op} failed: storage unavailable")
    }
}

impl Host for Kv {
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, String>> {
        let result = self.store.kv_get(&self.plugin, &self.session, &key).await;
        Ok(result.map_err(|e| self.guest_error("get", e)))
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), String>> {
        let result = self.set_within_quota(&key, &value).await;
        Ok(result.unwrap_or_else(|e| Err(self.guest_error("set", e))))
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<Result<bool, String>> {
        let freed = match self.used {
            Some(_) => self.store.kv_entry_size(&self.plugin, &self.session, &key).await,
            None => Ok(None),
        };
        let result = match freed {
            Ok(freed) => self
                .store
                .kv_delete(&self.plugin, &self.session, &key)
                .await
                .inspect(|_| {
                    if let (Some(used), Some(freed)) = (self.used.as_mut(), freed) {
                        *used = used.saturating_sub(freed);
                    }
                }),
            Err(error) => Err(error),
        };
        Ok(result.map_err(|e| self.guest_error("delete", e)))
    }

    async fn list_keys(&mut self, prefix: String) -> wasmtime::Result<Result<Vec<String>, String>> {
        let result = self.store.kv_list(&self.plugin, &self.session, &prefix).await;
        Ok(result.map_err(|e| self.guest_error("list-keys", e)))
    }
}

pub fn add_to_linker(linker: &mut Linker<PluginState>) -> anyhow::Result<()> {
    wit::add_to_linker::<PluginState, HasSelf<Kv>>(linker, |state| &mut state.kv)?;
    Ok(())
}
