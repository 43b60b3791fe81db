//! Typed key/value state: JSON values (UTF-8 JSON text) in the host kv,
//! plugin-wide or scoped to a chat or a sender by a key prefix.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::purr::bot::kv;
use crate::{Error, Result};

/// A view of this plugin's kv in this session: every key below a prefix
/// (`""` plugin-wide, `chat/<chat>/`, `sender/<sender>/`).
#[derive(Debug, Clone)]
pub struct Kv {
    /// The key prefix, or the reason there is none (no chat/sender).
    prefix: std::result::Result<String, &'static str>,
}

impl Kv {
    pub(crate) fn plugin() -> Kv {
        Kv {
            prefix: Ok(String::new()),
        }
    }

    /// Keys below `<scope>/<id>/`; without an id (the event has no chat or
    /// sender) every call fails with `missing`.
    pub(crate) fn scoped(scope: &str, id: Option<&str>, missing: &'static str) -> Kv {
        Kv {
            prefix: id.map(|id| format!("{scope}/{id}/")).ok_or(missing),
        }
    }

    /// The full key of `key`.
    pub(crate) fn key(&self, key: &str) -> Result<String> {
        let prefix = self.prefix.as_deref().map_err(|&missing| Error::from(missing))?;
        Ok(format!("{prefix}{key}"))
    }

    /// The value of `key`, if set; an error if it is not JSON of type `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        match kv::get(&self.key(key)?)? {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|error| Error::new(format!("kv key \"{key}\": {error}"))),
            None => Ok(None),
        }
    }

    /// The value of `key`, or `default` if it is not set.
    pub fn get_or<T: DeserializeOwned>(&self, key: &str, default: T) -> Result<T> {
        Ok(self.get(key)?.unwrap_or(default))
    }

    /// Stores `value` (as JSON) under `key`.
    pub fn set<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result {
        let key = self.key(key)?;
        Ok(kv::set(&key, &serde_json::to_vec(value)?)?)
    }

    /// Removes `key`; returns whether it was set.
    pub fn delete(&self, key: &str) -> Result<bool> {
        Ok(kv::delete(&self.key(key)?)?)
    }

    /// The keys that start with `prefix`, in ascending order, without this
    /// view's own prefix.
    pub fn keys(&self, prefix: &str) -> Result<Vec<String>> {
        let full = self.key(prefix)?;
        let own = full.len() - prefix.len();
        Ok(kv::list_keys(&full)?
            .into_iter()
            .map(|key| key[own..].to_string())
            .collect())
    }
}
