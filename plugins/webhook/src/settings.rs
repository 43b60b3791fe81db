//! The plugin's `config` table: where to POST, which events, the secret and
//! extra headers.

use purr_sdk::{Config, Error, Result};

/// Event kinds the `events` setting may name (`*`: all of them).
pub const KINDS: [&str; 12] = [
    "message",
    "receipt",
    "presence",
    "chat-state",
    "group-update",
    "started",
    "qr",
    "pair-code",
    "connected",
    "disconnected",
    "logged-out",
    "timer",
];

/// What the config says.
pub struct Settings {
    pub url: String,
    /// The selected kinds; `*` selects all.
    events: Vec<String>,
    pub secret: Option<String>,
    /// Extra request headers, in name order.
    pub headers: Vec<(String, String)>,
}

impl Settings {
    /// Reads and checks the settings; a mistake is an error naming the key.
    pub fn read(config: &Config) -> Result<Settings> {
        let url = config
            .get("url")
            .filter(|url| url.starts_with("http://") || url.starts_with("https://"))
            .ok_or_else(|| Error::new("webhook: config `url` must be an http:// or https:// URL"))?;
        let events = config
            .get_list("events")?
            .unwrap_or_else(|| vec!["message".to_string()]);
        if let Some(unknown) = events.iter().find(|e| *e != "*" && !KINDS.contains(&e.as_str())) {
            return Err(Error::new(format!(
                "webhook: config `events` names unknown kind {unknown:?} (known: *, {})",
                KINDS.join(", ")
            )));
        }
        let headers = match config.get("headers") {
            None => Vec::new(),
            Some(json) => purr_sdk::serde_json::from_str::<std::collections::BTreeMap<String, String>>(&json)
                .map_err(|_| Error::new("webhook: config `headers` must be a table of strings"))?
                .into_iter()
                .collect(),
        };
        Ok(Settings {
            url,
            events,
            secret: config.get("secret").filter(|s| !s.is_empty()),
            headers,
        })
    }

    /// Whether events of `kind` are forwarded.
    pub fn wants(&self, kind: &str) -> bool {
        self.events.iter().any(|e| e == "*" || e == kind)
    }
}
