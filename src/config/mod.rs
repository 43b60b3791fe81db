//! The host configuration: what the TOML file says, validated.
//!
//! This module owns the shape of `purr.toml` ([`Config`] and its parts) and
//! its loading ([`Config::load`]). Loading checks everything that can be
//! checked without starting anything — unknown keys, wrong types, bad
//! values, sessions naming missing plugins, missing wasm files, duplicates,
//! unset `${VAR}`s — and reports *every* problem at once, each naming the
//! file, line, column and key ([`ConfigError`]).
//!
//! Relative paths (`data_dir`, plugin `path`) are resolved against the
//! directory of the config file, so a config works from any working dir.

mod allowed_hosts;
mod env;
mod error;
mod load;
mod spans;

use std::collections::BTreeMap;
use std::path::PathBuf;

pub use allowed_hosts::HostPattern;
pub use error::{ConfigError, ConfigErrors};
pub use load::is_phone_number;

/// The whole, validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file this configuration was read from.
    pub source: PathBuf,
    pub host: HostConfig,
    pub sim: SimConfig,
    /// Plugins by name.
    pub plugins: BTreeMap<String, PluginConfig>,
    /// Sessions by name. A `[session]` table (singular) becomes `default`.
    pub sessions: BTreeMap<String, SessionConfig>,
}

/// The most instance slots purr reserves unless `max_instances` says
/// otherwise. Each slot costs address space and memory mappings (Linux
/// allows 65,530 per process by default); idle sessions hold no instances
/// (`idle_ms`), so the slots needed are those of recently active sessions.
pub const MAX_DEFAULT_INSTANCES: usize = 30_000;

impl Config {
    /// How many plugin instances may be alive at once: `host.max_instances`,
    /// or by default twice the sum of all chain lengths (room for sessions
    /// added later), at least 32 and at most [`MAX_DEFAULT_INSTANCES`].
    pub fn instance_capacity(&self) -> u32 {
        self.host.max_instances.unwrap_or_else(|| {
            let chained: usize = self.sessions.values().map(|s| s.plugins.len()).sum();
            (2 * chained).clamp(32, MAX_DEFAULT_INSTANCES) as u32
        })
    }

    /// The largest `memory_mb` of any plugin: the size of a pooled memory slot.
    pub fn max_memory_mb(&self) -> u64 {
        self.plugins.values().map(|p| p.memory_mb).max().unwrap_or(64).max(64)
    }
}

/// `[host]`: process-wide settings.
#[derive(Debug, Clone, PartialEq)]
pub struct HostConfig {
    /// Where the SQLite database, compile cache and API token live
    /// (default `.purr` next to the config file).
    pub data_dir: PathBuf,
    /// A database URL overriding the SQLite file in `data_dir`.
    pub database: Option<String>,
    /// Address of the control API (default `127.0.0.1:7777`).
    pub api: String,
    /// Capacity of each session's inbound queue (default 1024).
    pub queue_capacity: usize,
    /// Journal inbound events before dispatching them (default true). Off,
    /// an event queued or in flight when the host dies is lost; sends still
    /// go through the outbox.
    pub journal: bool,
    /// Tries of an event whose plugin chain fails before it is moved to the
    /// dead letters (default 1: no retry).
    pub event_attempts: u32,
    /// How long finished journal rows and sent outbox rows are kept
    /// (`journal_keep`, a duration such as `"7d"`, `"36h"`, `"90m"`;
    /// default 1 day, at least a minute): a message the network delivers
    /// again within it is recognized, and `purr replay` can look back that
    /// far. They hold message content (inbound texts, replies).
    pub journal_keep: std::time::Duration,
    /// Plugin instances the pooling allocator holds room for; see
    /// [`Config::instance_capacity`].
    pub max_instances: Option<u32>,
    /// How long a stop (SIGTERM) may drain: the control API's requests in
    /// flight and the sessions' queued events (default 10000). Past it,
    /// sessions stop after their current event; what they had not handled
    /// stays in the journal for the next start.
    pub shutdown_grace_ms: u64,
    /// A file holding the control API's token (`api_token_file`, resolved
    /// against the config's directory), e.g. a mounted secret; see
    /// [`crate::control::ApiToken`] for the order of the sources.
    pub api_token_file: Option<PathBuf>,
    /// This host's name among the hosts sharing a PostgreSQL database
    /// (default: the machine's hostname); see `docs/deploy.md`.
    pub id: String,
    /// Sessions this host runs at most when hosts share a database (default
    /// no limit).
    pub max_sessions: Option<usize>,
    /// How often a host renews its session leases, in milliseconds (default 2000).
    pub lease_renew_ms: u64,
    /// How long a lease lasts unrenewed: a host that stops renewing (dead,
    /// paused, cut off) loses its sessions to the others after it, in
    /// milliseconds (default 10000, at least twice `lease_renew_ms`).
    pub lease_expiry_ms: u64,
}

/// `[sim]`: the simulated network.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// How long a never-paired sim session shows its QR before it pairs
    /// itself, in milliseconds (default 300).
    pub pair_delay_ms: u64,
    /// Keep what sim sessions send in the database (`sim_sent`), where
    /// `purr sim log` reads it; default false (kept in memory only).
    pub keep_sent: bool,
}

/// `[plugins.<name>]`: one WebAssembly component.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginConfig {
    /// The component file (absolute, resolved against the config's dir).
    pub path: PathBuf,
    /// A candidate version run as this plugin's shadow (absolute): it gets
    /// every live event, without effects, and is compared with the serving
    /// version (see `docs/plugins.md`, "Deploying a new version").
    pub shadow: Option<PathBuf>,
    /// Deadline for one `handle` call, in ms (default 1000).
    pub timeout_ms: u64,
    /// Memory cap of one instance, in MiB (default 64).
    pub memory_mb: u64,
    /// Calls after which an instance is recycled, bounding leaks (default 10000).
    pub max_calls: u64,
    /// A session's instance of the plugin is dropped after it had no event
    /// for this long, so idle sessions hold no instances (default 60000;
    /// 0 keeps instances for as long as the session runs).
    pub idle_ms: u64,
    /// Quotas on the plugin's host calls, per session.
    pub quotas: PluginQuotas,
    /// Outbound HTTP: where to, and limits.
    pub http: PluginHttp,
    /// Whether the plugin receives `qr` and `pair-code` events (default
    /// false). A linking code links the account to whoever uses it first,
    /// and a plugin may have network access: only plugins meant to show
    /// codes (to an operator) get them.
    pub linking_codes: bool,
    /// The plugin's own settings, given to it through the `config` import.
    pub settings: toml::Table,
}

impl PluginConfig {
    /// This entry with `path` as its file and no shadow: how a candidate
    /// (a shadow, a replay's) is loaded, with the plugin's limits and settings.
    pub fn candidate(&self, path: PathBuf) -> PluginConfig {
        PluginConfig {
            path,
            shadow: None,
            ..self.clone()
        }
    }

    /// Whether `other` loads the same serving version: equal but for `shadow`.
    pub fn same_version(&self, other: &PluginConfig) -> bool {
        self.candidate(self.path.clone()) == other.candidate(other.path.clone())
    }
}

/// Limits on the bytes and calls one plugin may hand the host in one
/// session (docs/design.md, "Limits"). Going over one is an error returned
/// to the plugin (or, for logs, a cut line), counted in
/// `purr_quota_exceeded_total`; never a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PluginQuotas {
    /// Largest kv value, in bytes (`max_kv_value_bytes`, default 64 KiB).
    pub kv_value_bytes: u64,
    /// Total kv bytes, keys + values (`max_kv_bytes`, default 16 MiB).
    pub kv_total_bytes: u64,
    /// Longest kv key or `list-keys` prefix, in bytes (`max_kv_key_bytes`,
    /// default 1 KiB).
    pub kv_key_bytes: u64,
    /// Pending timers (`max_timers`, default 1000).
    pub timers: u64,
    /// Largest timer payload, in bytes (`max_timer_payload_bytes`, default 64 KiB).
    pub timer_payload_bytes: u64,
    /// All pending timer payloads together, in bytes (`max_timer_bytes`,
    /// default 4 MiB).
    pub timer_total_bytes: u64,
    /// Longest text of a message, reply, edit or caption, in bytes
    /// (`max_text_bytes`, default 65536); the channel may allow less.
    pub text_bytes: u64,
    /// Largest media upload, in bytes (`max_media_bytes`, default 16 MiB).
    pub media_bytes: u64,
    /// All the sends the plugin queues while handling one event, in bytes
    /// (`max_event_send_bytes`, default 32 MiB).
    pub event_send_bytes: u64,
    /// Longest log record; longer ones are cut (`max_log_line_bytes`,
    /// default 16 KiB).
    pub log_line_bytes: u64,
    /// Log bytes per minute; beyond, records are dropped
    /// (`max_log_bytes_per_minute`, default 1 MiB).
    pub log_bytes_per_minute: u64,
}

impl Default for PluginQuotas {
    fn default() -> Self {
        PluginQuotas {
            kv_value_bytes: 64 << 10,
            kv_total_bytes: 16 << 20,
            kv_key_bytes: 1 << 10,
            timers: 1000,
            timer_payload_bytes: 64 << 10,
            timer_total_bytes: 4 << 20,
            text_bytes: 65_536,
            media_bytes: 16 << 20,
            event_send_bytes: 32 << 20,
            log_line_bytes: 16 << 10,
            log_bytes_per_minute: 1 << 20,
        }
    }
}

/// `allowed_hosts` and the `http_*` limits of a plugin. Going over a limit
/// is an error returned to the plugin's request, never a crash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginHttp {
    /// Origins the plugin may request (default: none).
    pub allowed_hosts: Vec<HostPattern>,
    /// Longest wait to connect, for the first response byte, and between
    /// response bytes, in ms (default 10000). A request cannot outlive the
    /// event either: `timeout_ms` cuts the call.
    pub timeout_ms: u64,
    /// Largest response body, in bytes (default 4 MiB).
    pub max_response_bytes: u64,
    /// Requests in flight at once per instance (default 8).
    pub max_concurrent: u32,
}

impl Default for PluginHttp {
    fn default() -> Self {
        PluginHttp {
            allowed_hosts: Vec::new(),
            timeout_ms: 10_000,
            max_response_bytes: 4 << 20,
            max_concurrent: 8,
        }
    }
}

/// Which network a session talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelKind {
    /// The in-process simulated network.
    Sim,
    /// WhatsApp, through whatsapp-rust.
    Whatsapp,
}

impl ChannelKind {
    /// The kind a config (or API request) names: `sim` or `whatsapp`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "sim" => Some(ChannelKind::Sim),
            "whatsapp" => Some(ChannelKind::Whatsapp),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Sim => "sim",
            ChannelKind::Whatsapp => "whatsapp",
        }
    }
}

/// `[sessions.<name>]`: one chat account and its plugin chain.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionConfig {
    pub channel: ChannelKind,
    /// Plugin names, in chain order. May be empty (a send-only account).
    pub plugins: Vec<String>,
    /// Start when the host starts (default true).
    pub autostart: bool,
    /// Phone number to link by pair code instead of QR (WhatsApp only).
    pub pair_phone: Option<String>,
    /// Messaging calls (sends, reactions, edits, ...) the session's plugins
    /// may make per minute, together (default 600).
    pub sends_per_minute: u32,
    /// Per-plugin settings merged over that plugin's `config` table,
    /// from `[sessions.<name>.config.<plugin>]`.
    pub overrides: BTreeMap<String, toml::Table>,
}

/// A session's `sends_per_minute` unless it says otherwise.
pub const DEFAULT_SENDS_PER_MINUTE: u32 = 600;

/// The longest session or plugin name. Names appear in every log line,
/// metric label and URL; an unbounded one would bloat all of them.
pub const MAX_NAME_LEN: usize = 64;

/// Whether `name` may name a session or plugin: 1 to [`MAX_NAME_LEN`]
/// letters, digits, `_` and `-`.
pub fn is_valid_name(name: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `name` for an error message: at most [`MAX_NAME_LEN`] characters shown.
pub fn shown_name(name: &str) -> String {
    match name.char_indices().nth(MAX_NAME_LEN) {
        Some((cut, _)) => format!("{:?}… ({} bytes)", &name[..cut], name.len()),
        None => format!("{name:?}"),
    }
}

/// The name a `[session]` table (a single-account config) gets.
pub const DEFAULT_SESSION: &str = "default";
