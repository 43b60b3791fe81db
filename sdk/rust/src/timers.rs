//! Timers: [`later`] schedules a JSON payload, the `timer` event brings it
//! back (only to this plugin, in the same session, after restarts too).

use serde::Serialize;
use serde::de::{DeserializeOwned, IgnoredAny};

use crate::Result;
use crate::bindings::purr::bot::timers;

/// Schedules a `timer` event in `ms` milliseconds carrying `payload` as
/// JSON; returns the timer's id.
pub fn later<T: Serialize + ?Sized>(ms: u64, payload: &T) -> Result<String> {
    Ok(timers::schedule(ms, &serde_json::to_string(payload)?)?)
}

/// Cancels a pending timer; returns whether it was pending.
pub fn cancel(id: &str) -> Result<bool> {
    Ok(timers::cancel(id)?)
}

/// A timer payload decoded from JSON; a payload that is not JSON at all
/// (scheduled by other means) decodes as the JSON string of its text.
pub(crate) fn decode<T: DeserializeOwned>(raw: &str) -> Result<T> {
    match serde_json::from_str(raw) {
        Ok(value) => Ok(value),
        Err(_) if serde_json::from_str::<IgnoredAny>(raw).is_err() => {
            Ok(serde_json::from_value(serde_json::Value::String(raw.to_string()))?)
        }
        Err(error) => Err(error.into()),
    }
}
