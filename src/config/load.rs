//! Reading and validating a config file.
//!
//! The text is parsed twice by toml: into a plain `toml::Table` (read by
//! the checks below) and into its spanned document (to place errors). Every
//! check records its problem and goes on, so one run reports them all.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::de::DeTable;

use super::env::{self, Lookup};
use super::spans::{KeyPath, Spans, Spot, line_column};
use super::{
    ChannelKind, Config, ConfigError, ConfigErrors, DEFAULT_SESSION, HostConfig, HostPattern, PluginConfig, PluginHttp,
    PluginQuotas, SessionConfig, SimConfig,
};

const TOP_KEYS: &[&str] = &["host", "sim", "plugins", "sessions", "session"];
const HOST_KEYS: &[&str] = &[
    "data_dir",
    "database",
    "api",
    "queue_capacity",
    "journal",
    "journal_keep",
    "event_attempts",
    "max_instances",
    "shutdown_grace_ms",
    "api_token_file",
    "id",
    "max_sessions",
    "lease_renew_ms",
    "lease_expiry_ms",
];
const SIM_KEYS: &[&str] = &["pair_delay_ms", "keep_sent"];
const PLUGIN_KEYS: &[&str] = &[
    "path",
    "timeout_ms",
    "memory_mb",
    "max_calls",
    "idle_ms",
    "max_kv_value_bytes",
    "max_kv_bytes",
    "max_kv_key_bytes",
    "max_timers",
    "max_timer_payload_bytes",
    "max_timer_bytes",
    "max_text_bytes",
    "max_media_bytes",
    "max_event_send_bytes",
    "max_log_line_bytes",
    "max_log_bytes_per_minute",
    "allowed_hosts",
    "http_timeout_ms",
    "http_max_response_bytes",
    "http_max_concurrent",
    "linking_codes",
    "shadow",
    "config",
];
const SESSION_KEYS: &[&str] = &[
    "channel",
    "plugins",
    "autostart",
    "pair_phone",
    "sends_per_minute",
    "config",
];

impl Config {
    /// Reads and validates the config at `path`, reporting every problem.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|error| {
            ConfigErrors(vec![ConfigError {
                file: path.to_path_buf(),
                line: 1,
                column: 1,
                key: String::new(),
                message: format!("cannot read the config: {error}"),
            }])
        })?;
        Self::parse(&text, path)
    }

    /// Validates `text` as the content of `source` (relative paths resolve
    /// against its directory; plugin files are checked on disk).
    pub fn parse(text: &str, source: &Path) -> Result<Config, ConfigErrors> {
        parse_with_env(text, source, &|name| std::env::var(name).ok())
    }
}

/// [`Config::parse`] with an explicit environment.
pub(super) fn parse_with_env(text: &str, source: &Path, lookup: Lookup<'_>) -> Result<Config, ConfigErrors> {
    let syntax_error = |error: toml::de::Error| {
        let (line, column) = line_column(text, error.span().map_or(0, |s| s.start));
        let message = error.message().lines().next().unwrap_or("invalid TOML").to_string();
        ConfigErrors(vec![ConfigError {
            file: source.to_path_buf(),
            line,
            column,
            key: String::new(),
            message,
        }])
    };
    let document = DeTable::parse(text).map_err(syntax_error)?;
    let mut table: toml::Table = toml::from_str(text).map_err(syntax_error)?;

    let mut checker = Checker {
        source,
        base_dir: source.parent().unwrap_or(Path::new(".")),
        spans: Spans::new(text, document),
        errors: Vec::new(),
    };
    let mut env_errors = Vec::new();
    for (key, value) in table.iter_mut() {
        env::substitute_all(value, &KeyPath::root().key(key), lookup, &mut env_errors);
    }
    for (path, message) in env_errors {
        checker.error(&path, Spot::Value, message);
    }
    let config = checker.config(&table);
    if checker.errors.is_empty() {
        Ok(config)
    } else {
        checker.errors.sort_by_key(|e| (e.line, e.column));
        Err(ConfigErrors(checker.errors))
    }
}

/// Reads typed values out of the table, recording every problem.
struct Checker<'a> {
    source: &'a Path,
    base_dir: &'a Path,
    spans: Spans<'a>,
    errors: Vec<ConfigError>,
}

impl Checker<'_> {
    fn error(&mut self, path: &KeyPath, spot: Spot, message: impl Into<String>) {
        let (line, column) = self.spans.position(path, spot);
        self.errors.push(ConfigError {
            file: self.source.to_path_buf(),
            line,
            column,
            key: path.to_string(),
            message: message.into(),
        });
    }

    fn config(&mut self, top: &toml::Table) -> Config {
        let root = KeyPath::root();
        self.check_keys(top, &root, TOP_KEYS);
        let empty = toml::Table::new();
        let host_table = self.table(top, &root, "host").unwrap_or(&empty);
        let host = self.host(host_table, &root.key("host"));
        let sim_table = self.table(top, &root, "sim").unwrap_or(&empty);
        let sim = self.sim(sim_table, &root.key("sim"));
        let plugins = self.plugins(top);
        let sessions = self.sessions(top, &plugins);
        Config {
            source: self.source.to_path_buf(),
            host,
            sim,
            plugins,
            sessions,
        }
    }

    fn host(&mut self, table: &toml::Table, path: &KeyPath) -> HostConfig {
        self.check_keys(table, path, HOST_KEYS);
        let api = self
            .string(table, path, "api")
            .unwrap_or_else(|| "127.0.0.1:7777".into());
        if api.parse::<SocketAddr>().is_err() {
            self.error(
                &path.key("api"),
                Spot::Value,
                format!("{api:?} is not an address like 127.0.0.1:7777"),
            );
        }
        let data_dir = self.string(table, path, "data_dir").unwrap_or_else(|| ".purr".into());
        let lease_renew_ms = self
            .integer(table, path, "lease_renew_ms", 10..=600_000)
            .unwrap_or(2_000) as u64;
        let lease_expiry_ms = self
            .integer(table, path, "lease_expiry_ms", 20..=3_600_000)
            .unwrap_or(10_000) as u64;
        if lease_expiry_ms < 2 * lease_renew_ms {
            self.error(
                &path.key("lease_expiry_ms"),
                Spot::Value,
                format!("{lease_expiry_ms} is less than twice lease_renew_ms ({lease_renew_ms}): a lease would expire between two renewals"),
            );
        }
        HostConfig {
            data_dir: self.resolve(&data_dir),
            database: self.string(table, path, "database"),
            api,
            queue_capacity: self
                .integer(table, path, "queue_capacity", 1..=1_000_000)
                .unwrap_or(1024) as usize,
            journal: self.boolean(table, path, "journal").unwrap_or(true),
            journal_keep: self.journal_keep(table, path),
            event_attempts: self.integer(table, path, "event_attempts", 1..=100).unwrap_or(1) as u32,
            max_instances: self
                .integer(table, path, "max_instances", 1..=100_000)
                .map(|n| n as u32),
            shutdown_grace_ms: self
                .integer(table, path, "shutdown_grace_ms", 0..=3_600_000)
                .unwrap_or(10_000) as u64,
            api_token_file: self
                .string(table, path, "api_token_file")
                .map(|file| self.resolve(&file)),
            id: self.string(table, path, "id").unwrap_or_else(default_host_id),
            max_sessions: self
                .integer(table, path, "max_sessions", 1..=1_000_000)
                .map(|n| n as usize),
            lease_renew_ms,
            lease_expiry_ms,
        }
    }

    /// `journal_keep`: a duration string (`"7d"`, `"36h"`, `"90m"`), at
    /// least a minute; 1 day if absent or invalid (reported).
    fn journal_keep(&mut self, table: &toml::Table, path: &KeyPath) -> Duration {
        const DEFAULT: Duration = Duration::from_secs(24 * 60 * 60);
        let Some(text) = self.string_as(
            table,
            path,
            "journal_keep",
            "a duration such as \"7d\", \"36h\" or \"90m\"",
        ) else {
            return DEFAULT;
        };
        let problem = match humantime::parse_duration(&text) {
            Ok(keep) if keep >= Duration::from_secs(60) => return keep,
            Ok(_) => format!("{text:?} is shorter than a minute"),
            Err(error) => format!("{text:?} is not a duration such as \"7d\", \"36h\" or \"90m\" ({error})"),
        };
        self.error(&path.key("journal_keep"), Spot::Value, problem);
        DEFAULT
    }

    fn sim(&mut self, table: &toml::Table, path: &KeyPath) -> SimConfig {
        self.check_keys(table, path, SIM_KEYS);
        SimConfig {
            pair_delay_ms: self.integer(table, path, "pair_delay_ms", 0..=3_600_000).unwrap_or(300) as u64,
            keep_sent: self.boolean(table, path, "keep_sent").unwrap_or(false),
        }
    }

    fn plugins(&mut self, top: &toml::Table) -> BTreeMap<String, PluginConfig> {
        let path = KeyPath::root().key("plugins");
        let mut plugins = BTreeMap::new();
        for (name, value) in self.table(top, &KeyPath::root(), "plugins").into_iter().flatten() {
            let entry = path.key(name);
            self.check_name(name, &entry);
            let Some(table) = self.expect_table(value, &entry) else {
                continue;
            };
            self.check_keys(table, &entry, PLUGIN_KEYS);
            let plugin_path = match self.string(table, &entry, "path") {
                Some(file) => self.resolve(&file),
                None => {
                    if !table.contains_key("path") {
                        self.error(&entry, Spot::Key, "missing `path` (the plugin's .wasm file)");
                    }
                    PathBuf::new()
                }
            };
            if table.contains_key("path") && !plugin_path.as_os_str().is_empty() && !plugin_path.is_file() {
                let message = format!("plugin file {} does not exist", plugin_path.display());
                self.error(&entry.key("path"), Spot::Value, message);
            }
            let shadow = self.string(table, &entry, "shadow").map(|file| self.resolve(&file));
            if let Some(file) = shadow.as_ref().filter(|file| !file.is_file()) {
                let message = format!("shadow file {} does not exist", file.display());
                self.error(&entry.key("shadow"), Spot::Value, message);
            }
            let plugin = PluginConfig {
                path: plugin_path,
                shadow,
                timeout_ms: self.integer(table, &entry, "timeout_ms", 1..=3_600_000).unwrap_or(1000) as u64,
                memory_mb: self.integer(table, &entry, "memory_mb", 1..=4096).unwrap_or(64) as u64,
                max_calls: self.integer(table, &entry, "max_calls", 1..=i64::MAX).unwrap_or(10_000) as u64,
                idle_ms: self.integer(table, &entry, "idle_ms", 0..=i64::MAX).unwrap_or(60_000) as u64,
                quotas: self.quotas(table, &entry),
                http: self.http(table, &entry),
                linking_codes: self.boolean(table, &entry, "linking_codes").unwrap_or(false),
                settings: self.table(table, &entry, "config").cloned().unwrap_or_default(),
            };
            plugins.insert(name.clone(), plugin);
        }
        plugins
    }

    fn quotas(&mut self, table: &toml::Table, path: &KeyPath) -> PluginQuotas {
        let defaults = PluginQuotas::default();
        let mut quota = |key, default: u64| {
            self.integer(table, path, key, 0..=i64::MAX)
                .map_or(default, |n| n as u64)
        };
        PluginQuotas {
            kv_value_bytes: quota("max_kv_value_bytes", defaults.kv_value_bytes),
            kv_total_bytes: quota("max_kv_bytes", defaults.kv_total_bytes),
            kv_key_bytes: quota("max_kv_key_bytes", defaults.kv_key_bytes),
            timers: quota("max_timers", defaults.timers),
            timer_payload_bytes: quota("max_timer_payload_bytes", defaults.timer_payload_bytes),
            timer_total_bytes: quota("max_timer_bytes", defaults.timer_total_bytes),
            text_bytes: quota("max_text_bytes", defaults.text_bytes),
            media_bytes: quota("max_media_bytes", defaults.media_bytes),
            event_send_bytes: quota("max_event_send_bytes", defaults.event_send_bytes),
            log_line_bytes: quota("max_log_line_bytes", defaults.log_line_bytes),
            log_bytes_per_minute: quota("max_log_bytes_per_minute", defaults.log_bytes_per_minute),
        }
    }

    fn http(&mut self, table: &toml::Table, path: &KeyPath) -> PluginHttp {
        let defaults = PluginHttp::default();
        PluginHttp {
            allowed_hosts: self.allowed_hosts(table, path),
            timeout_ms: self
                .integer(table, path, "http_timeout_ms", 1..=3_600_000)
                .map_or(defaults.timeout_ms, |n| n as u64),
            max_response_bytes: self
                .integer(table, path, "http_max_response_bytes", 0..=i64::MAX)
                .map_or(defaults.max_response_bytes, |n| n as u64),
            max_concurrent: self
                .integer(table, path, "http_max_concurrent", 1..=1024)
                .map_or(defaults.max_concurrent, |n| n as u32),
        }
    }

    /// `allowed_hosts`: an array of `scheme://host[:port]` entries.
    fn allowed_hosts(&mut self, table: &toml::Table, path: &KeyPath) -> Vec<HostPattern> {
        let list_path = path.key("allowed_hosts");
        let items = match table.get("allowed_hosts") {
            None => return Vec::new(),
            Some(toml::Value::Array(items)) => items,
            Some(other) => {
                let message = wrong_type("an array of \"scheme://host[:port]\" strings", other);
                self.error(&list_path, Spot::Value, message);
                return Vec::new();
            }
        };
        let mut patterns = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let item_path = list_path.index(index);
            match item.as_str().map(str::parse::<HostPattern>) {
                Some(Ok(pattern)) => patterns.push(pattern),
                Some(Err(why)) => self.error(&item_path, Spot::Value, why),
                None => self.error(&item_path, Spot::Value, wrong_type("a string", item)),
            }
        }
        patterns
    }

    fn sessions(
        &mut self,
        top: &toml::Table,
        plugins: &BTreeMap<String, PluginConfig>,
    ) -> BTreeMap<String, SessionConfig> {
        let root = KeyPath::root();
        let mut sessions = BTreeMap::new();
        for (name, value) in self.table(top, &root, "sessions").into_iter().flatten() {
            let entry = root.key("sessions").key(name);
            self.check_name(name, &entry);
            if let Some(table) = self.expect_table(value, &entry)
                && let Some(session) = self.session(table, &entry, plugins)
            {
                sessions.insert(name.clone(), session);
            }
        }
        if let Some(table) = self.table(top, &root, "session") {
            let entry = root.key("session");
            if top.get("sessions").and_then(|s| s.get(DEFAULT_SESSION)).is_some() {
                self.error(
                    &entry,
                    Spot::Key,
                    "duplicate session `default`: use either [session] or [sessions.default]",
                );
            } else if let Some(session) = self.session(table, &entry, plugins) {
                sessions.insert(DEFAULT_SESSION.to_string(), session);
            }
        }
        sessions
    }

    fn session(
        &mut self,
        table: &toml::Table,
        path: &KeyPath,
        plugins: &BTreeMap<String, PluginConfig>,
    ) -> Option<SessionConfig> {
        self.check_keys(table, path, SESSION_KEYS);
        let channel = match self.string(table, path, "channel") {
            Some(name) => {
                let kind = ChannelKind::from_name(&name);
                if kind.is_none() {
                    let message = format!("unknown channel {name:?} (expected \"sim\" or \"whatsapp\")");
                    self.error(&path.key("channel"), Spot::Value, message);
                }
                kind
            }
            None => {
                if !table.contains_key("channel") {
                    self.error(path, Spot::Key, "missing `channel` (\"sim\" or \"whatsapp\")");
                }
                None
            }
        };
        let chain = self.chain(table, path, plugins);
        let pair_phone = self.string(table, path, "pair_phone");
        if let Some(phone) = &pair_phone {
            if channel == Some(ChannelKind::Sim) {
                self.error(
                    &path.key("pair_phone"),
                    Spot::Key,
                    "`pair_phone` is for whatsapp sessions only",
                );
            } else if !is_phone_number(phone) {
                let message = format!("{phone:?} is not a phone number like \"+15551234567\"");
                self.error(&path.key("pair_phone"), Spot::Value, message);
            }
        }
        let overrides = self.overrides(table, path, &chain);
        let autostart = self.boolean(table, path, "autostart").unwrap_or(true);
        let sends_per_minute = self
            .integer(table, path, "sends_per_minute", 1..=1_000_000)
            .unwrap_or(i64::from(super::DEFAULT_SENDS_PER_MINUTE)) as u32;
        Some(SessionConfig {
            channel: channel?,
            plugins: chain,
            autostart,
            pair_phone,
            sends_per_minute,
            overrides,
        })
    }

    /// The session's plugin chain: defined plugins, each once.
    fn chain(&mut self, table: &toml::Table, path: &KeyPath, plugins: &BTreeMap<String, PluginConfig>) -> Vec<String> {
        let chain_path = path.key("plugins");
        let items = match table.get("plugins") {
            None => return Vec::new(),
            Some(toml::Value::Array(items)) => items,
            Some(other) => {
                self.error(&chain_path, Spot::Value, wrong_type("an array of plugin names", other));
                return Vec::new();
            }
        };
        let mut chain: Vec<String> = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let item_path = chain_path.index(index);
            let Some(name) = item.as_str() else {
                self.error(&item_path, Spot::Value, wrong_type("a plugin name", item));
                continue;
            };
            if !plugins.contains_key(name) {
                let defined: Vec<_> = plugins.keys().map(String::as_str).collect();
                let message = format!("unknown plugin {name:?} (defined: {})", list_or_none(&defined));
                self.error(&item_path, Spot::Value, message);
            } else if chain.iter().any(|seen| seen == name) {
                self.error(
                    &item_path,
                    Spot::Value,
                    format!("plugin {name:?} is already in this chain"),
                );
            } else {
                chain.push(name.to_string());
            }
        }
        chain
    }

    /// `[sessions.<name>.config.<plugin>]` tables, for plugins of the chain.
    fn overrides(&mut self, table: &toml::Table, path: &KeyPath, chain: &[String]) -> BTreeMap<String, toml::Table> {
        let mut overrides = BTreeMap::new();
        let config_path = path.key("config");
        for (plugin, value) in self.table(table, path, "config").into_iter().flatten() {
            let entry = config_path.key(plugin);
            if !chain.contains(plugin) {
                let message = format!("plugin {plugin:?} is not in this session's chain");
                self.error(&entry, Spot::Key, message);
            } else if let Some(settings) = self.expect_table(value, &entry) {
                overrides.insert(plugin.clone(), settings.clone());
            }
        }
        overrides
    }

    fn check_keys(&mut self, table: &toml::Table, path: &KeyPath, allowed: &[&str]) {
        for key in table.keys() {
            if !allowed.contains(&key.as_str()) {
                let message = format!("unknown key `{key}` (expected one of: {})", allowed.join(", "));
                self.error(&path.key(key), Spot::Key, message);
            }
        }
    }

    fn check_name(&mut self, name: &str, path: &KeyPath) {
        if !super::is_valid_name(name) {
            let message = format!(
                "invalid name {}: use 1 to {} letters, digits, `_` and `-`",
                super::shown_name(name),
                super::MAX_NAME_LEN
            );
            self.error(path, Spot::Key, message);
        }
    }

    fn table<'t>(&mut self, table: &'t toml::Table, path: &KeyPath, key: &str) -> Option<&'t toml::Table> {
        self.expect_table(table.get(key)?, &path.key(key))
    }

    fn expect_table<'t>(&mut self, value: &'t toml::Value, path: &KeyPath) -> Option<&'t toml::Table> {
        match value {
            toml::Value::Table(table) => Some(table),
            other => {
                self.error(path, Spot::Value, wrong_type("a table", other));
                None
            }
        }
    }

    fn string(&mut self, table: &toml::Table, path: &KeyPath, key: &str) -> Option<String> {
        self.string_as(table, path, key, "a string")
    }

    /// A string value; another type is reported as not being `expected`.
    fn string_as(&mut self, table: &toml::Table, path: &KeyPath, key: &str, expected: &str) -> Option<String> {
        match table.get(key)? {
            toml::Value::String(s) => Some(s.clone()),
            other => {
                self.error(&path.key(key), Spot::Value, wrong_type(expected, other));
                None
            }
        }
    }

    fn integer(&mut self, table: &toml::Table, path: &KeyPath, key: &str, range: RangeInclusive<i64>) -> Option<i64> {
        match table.get(key)? {
            toml::Value::Integer(i) if range.contains(i) => Some(*i),
            toml::Value::Integer(i) => {
                let message = format!("{i} is out of range ({}..={})", range.start(), range.end());
                self.error(&path.key(key), Spot::Value, message);
                None
            }
            other => {
                self.error(&path.key(key), Spot::Value, wrong_type("an integer", other));
                None
            }
        }
    }

    fn boolean(&mut self, table: &toml::Table, path: &KeyPath, key: &str) -> Option<bool> {
        match table.get(key)? {
            toml::Value::Boolean(b) => Some(*b),
            other => {
                self.error(&path.key(key), Spot::Value, wrong_type("true or false", other));
                None
            }
        }
    }

    /// `file` relative to the config file's directory, made absolute with
    /// its directory canonical (the file itself may not exist yet). A
    /// config read through a relative path (`-c purr.toml`) and the same
    /// file read again through its absolute path resolve every entry to
    /// the same path, so a reload sees unchanged entries as unchanged.
    fn resolve(&self, file: &str) -> PathBuf {
        let path = self.base_dir.join(file);
        let absolute = std::path::absolute(&path).unwrap_or(path);
        match (absolute.parent(), absolute.file_name()) {
            (Some(dir), Some(name)) => dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf()).join(name),
            _ => absolute,
        }
    }
}

fn wrong_type(expected: &str, found: &toml::Value) -> String {
    format!("expected {expected}, found {}", found.type_str())
}

fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

/// `+` and 6 to 15 digits.
/// Whether `phone` is a number in international form: `+` and 6 to 15 digits.
pub fn is_phone_number(phone: &str) -> bool {
    phone
        .strip_prefix('+')
        .is_some_and(|digits| (6..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()))
}

/// The machine's hostname (`[host] id` when the config names none).
fn default_host_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "purr".to_string())
}
