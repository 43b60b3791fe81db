//! `purr:bot/kv`: key/value data private to one plugin in one session.
//!
//! Rows live in the database's `plugin_kv` table keyed by (plugin, session,
//! key); the scope is fixed when the instance is made, so a guest cannot
//! reach another plugin's or another session's data.

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use crate::plugin::PluginState;
use crate::plugin::bindings::purr::bot::kv::{self as wit, Host};
use crate::store::Store;

/// The kv capability of one instance.
pub struct Kv {
    store: Store,
    plugin: Arc<str>,
    session: Arc<str>,
}

impl Kv {
    pub fn new(store: Store, plugin: Arc<str>, session: Arc<str>) -> Self {
        Kv { store, plugin, session }
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
        let result = self.store.kv_set(&self.plugin, &self.session, &key, &value).await;
        Ok(result.map_err(|e| self.guest_error("set", e)))
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<Result<bool, String>> {
        let result = self.store.kv_delete(&self.plugin, &self.session, &key).await;
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
