//! This plugin's settings (its `config` table, with the session's
//! overrides), read as strings, numbers, booleans, lists or JSON.

use serde::de::DeserializeOwned;

use crate::bindings::purr::bot::config;
use crate::{Error, Result};

/// This plugin's settings. A missing key is `None`; a key that is present
/// but of another type is an error naming the key.
#[derive(Debug, Clone, Copy, Default)]
pub struct Config;

impl Config {
    /// The value of `key` as a string (numbers and booleans in their TOML
    /// spelling, arrays and tables as JSON).
    pub fn get(&self, key: &str) -> Option<String> {
        config::get(key)
    }

    /// The value of `key`, or `default` if it is not set.
    pub fn get_or(&self, key: &str, default: &str) -> String {
        self.get(key).unwrap_or_else(|| default.to_string())
    }

    /// The value of `key` as an integer.
    pub fn get_int(&self, key: &str) -> Result<Option<i64>> {
        parse(key, self.get(key), "an integer")
    }

    /// The value of `key` as a number (an integer is a number too).
    pub fn get_float(&self, key: &str) -> Result<Option<f64>> {
        parse(key, self.get(key), "a number")
    }

    /// The value of `key` as a boolean.
    pub fn get_bool(&self, key: &str) -> Result<Option<bool>> {
        parse(key, self.get(key), "a boolean")
    }

    /// The value of `key` as a list of strings (an array of scalars).
    pub fn get_list(&self, key: &str) -> Result<Option<Vec<String>>> {
        match config::get_list(key) {
            Some(list) => Ok(Some(list)),
            None if self.get(key).is_some() => Err(ill_typed(key, "a list")),
            None => Ok(None),
        }
    }

    /// The names of all settings, in ascending order.
    pub fn keys(&self) -> Vec<String> {
        config::keys()
    }

    /// The whole table, decoded from JSON (`serde_json::Value` for any).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_str(&config::all_json()).map_err(|error| Error::new(format!("config: {error}")))
    }
}

fn ill_typed(key: &str, what: &str) -> Error {
    Error::new(format!("config key \"{key}\" is not {what}"))
}

/// `value` of `key` parsed as a `T` (`what`, for the error).
pub(crate) fn parse<T: std::str::FromStr>(key: &str, value: Option<String>, what: &str) -> Result<Option<T>> {
    value
        .map(|value| value.parse().map_err(|_| ill_typed(key, what)))
        .transpose()
}
