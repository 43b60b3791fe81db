//! The host's metrics, in a `prometheus-client` registry encoded for
//! `GET /metrics` (OpenMetrics text, which Prometheus reads).
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `purr_events_in_total` | counter | `session` |
//! | `purr_events_out_total` | counter | `session` |
//! | `purr_handler_duration_seconds` | histogram | `plugin` |
//! | `purr_plugin_traps_total` | counter | `plugin` |
//! | `purr_plugin_reloads_total` | counter | `plugin`, `result` |
//! | `purr_http_requests_total` | counter | `plugin` |
//! | `purr_http_denied_total` | counter | `plugin` |
//! | `purr_http_errors_total` | counter | `plugin` |
//! | `purr_http_duration_seconds` | histogram | `plugin` |
//! | `purr_queue_depth` | gauge | `session` |
//! | `purr_sessions` | gauge | `status` |
//! | `purr_store_write_failures_total` | counter | — |
//! | `purr_quota_exceeded_total` | counter | `session`, `plugin`, `quota` |
//! | `purr_shadow_events_total` | counter | `plugin`, `result` (`identical`, `differing`, `candidate-error`, `dropped`) |
//!
//! `purr_quota_exceeded_total` counts what a plugin handed the host over a
//! limit (refused, or for logs cut or dropped); `quota` is the config key
//! of the limit (`max_timer_payload_bytes`, `sends_per_minute`, ...). Its
//! series appear on the first refusal; the family is process-wide (one
//! host per process) so the capabilities reach it without a handle, and
//! every [`Metrics`] registry shows it.
//!
//! Counters and the histogram are updated on the event path through
//! handles resolved once per session or plugin ([`SessionMetrics`],
//! [`PluginMetrics`]): an atomic add, no label lookup, no allocation.
//! The gauges are set at scrape time ([`Metrics::encode`]) from what the
//! supervisor reads then (queue lengths, statuses), not per event.

use std::sync::LazyLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::session::State;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SessionLabel {
    session: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginLabel {
    plugin: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReloadLabels {
    plugin: String,
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ShadowLabels {
    plugin: String,
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QuotaLabels {
    session: String,
    plugin: String,
    quota: &'static str,
}

/// `purr_quota_exceeded_total`, shared by every registry of the process.
static QUOTA_EXCEEDED: LazyLock<Family<QuotaLabels, Counter>> = LazyLock::new(Family::default);

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: &'static str,
}

/// Every status a session can be in, for `purr_sessions`.
const STATES: [State; 7] = [
    State::Stopped,
    State::Starting,
    State::ScanQr,
    State::Connected,
    State::Disconnected,
    State::LoggedOut,
    State::Failed,
];

fn handler_histogram() -> Histogram {
    // 100 µs to ~3.3 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

/// The host's metrics.
pub struct Metrics {
    registry: Registry,
    events_in: Family<SessionLabel, Counter>,
    events_out: Family<SessionLabel, Counter>,
    handler_seconds: Family<PluginLabel, Histogram, fn() -> Histogram>,
    traps: Family<PluginLabel, Counter>,
    reloads: Family<ReloadLabels, Counter>,
    http_requests: Family<PluginLabel, Counter>,
    http_denied: Family<PluginLabel, Counter>,
    http_errors: Family<PluginLabel, Counter>,
    http_seconds: Family<PluginLabel, Histogram, fn() -> Histogram>,
    queue_depth: Family<SessionLabel, Gauge>,
    sessions: Family<StatusLabel, Gauge>,
    shadow_events: Family<ShadowLabels, Counter>,
    /// The database writer stopped after a failed write.
    pub store_write_failures: Counter,
}

/// A session's counters, resolved once.
#[derive(Clone)]
pub struct SessionMetrics {
    pub events_in: Counter,
    pub events_out: Counter,
}

/// A plugin's counters and histogram, resolved once.
#[derive(Clone)]
pub struct PluginMetrics {
    pub handler_seconds: Histogram,
    pub traps: Counter,
    pub reloads_ok: Counter,
    pub reloads_failed: Counter,
    pub http: HttpMetrics,
    /// `purr_shadow_events_total`, whose series appear when a shadow is attached.
    shadow_events: Family<ShadowLabels, Counter>,
    name: String,
}

/// A shadow's counters, resolved once ([`PluginMetrics::shadow`]).
#[derive(Clone, Default)]
pub struct ShadowMetrics {
    pub identical: Counter,
    pub differing: Counter,
    pub candidate_errors: Counter,
    pub dropped: Counter,
}

impl PluginMetrics {
    /// The plugin's shadow counters (created on the first call).
    pub fn shadow(&self) -> ShadowMetrics {
        let counter = |result| {
            self.shadow_events.get_or_create_owned(&ShadowLabels {
                plugin: self.name.clone(),
                result,
            })
        };
        ShadowMetrics {
            identical: counter("identical"),
            differing: counter("differing"),
            candidate_errors: counter("candidate-error"),
            dropped: counter("dropped"),
        }
    }
}

/// A plugin's outbound HTTP counters, resolved once.
#[derive(Clone)]
pub struct HttpMetrics {
    /// Requests sent to the network (allowed by `allowed_hosts`).
    pub requests: Counter,
    /// Requests refused by `allowed_hosts` or the private-address rule.
    pub denied: Counter,
    /// Sent requests that failed (connect, timeout, size or concurrency limit, protocol).
    pub errors: Counter,
    /// Time from sending a request to its response head.
    pub seconds: Histogram,
}

impl Default for HttpMetrics {
    /// Handles registered nowhere (for instances made outside a host).
    fn default() -> Self {
        HttpMetrics {
            requests: Counter::default(),
            denied: Counter::default(),
            errors: Counter::default(),
            seconds: handler_histogram(),
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("purr");
        let events_in = Family::<SessionLabel, Counter>::default();
        let events_out = Family::<SessionLabel, Counter>::default();
        let handler_seconds =
            Family::<PluginLabel, Histogram, fn() -> Histogram>::new_with_constructor(handler_histogram);
        let traps = Family::<PluginLabel, Counter>::default();
        let reloads = Family::<ReloadLabels, Counter>::default();
        let http_requests = Family::<PluginLabel, Counter>::default();
        let http_denied = Family::<PluginLabel, Counter>::default();
        let http_errors = Family::<PluginLabel, Counter>::default();
        let http_seconds = Family::<PluginLabel, Histogram, fn() -> Histogram>::new_with_constructor(handler_histogram);
        let queue_depth = Family::<SessionLabel, Gauge>::default();
        let sessions = Family::<StatusLabel, Gauge>::default();
        let shadow_events = Family::<ShadowLabels, Counter>::default();
        registry.register(
            "shadow_events",
            "Live events a plugin's shadow (candidate version) was compared on, by result",
            shadow_events.clone(),
        );
        registry.register(
            "events_in",
            "Network events that reached a session's plugins",
            events_in.clone(),
        );
        registry.register(
            "events_out",
            "Outbound actions the network accepted from a session",
            events_out.clone(),
        );
        registry.register(
            "handler_duration_seconds",
            "Time a plugin took to handle one event",
            handler_seconds.clone(),
        );
        registry.register("plugin_traps", "Plugin traps, all sessions together", traps.clone());
        registry.register("plugin_reloads", "Plugin reloads by result", reloads.clone());
        registry.register(
            "http_requests",
            "Outbound HTTP requests plugins sent",
            http_requests.clone(),
        );
        registry.register(
            "http_denied",
            "Outbound HTTP requests refused by allowed_hosts",
            http_denied.clone(),
        );
        registry.register(
            "http_errors",
            "Outbound HTTP requests that failed after being allowed",
            http_errors.clone(),
        );
        registry.register(
            "http_duration_seconds",
            "Time from sending an outbound HTTP request to its response head",
            http_seconds.clone(),
        );
        registry.register(
            "queue_depth",
            "Events waiting in a session's queues",
            queue_depth.clone(),
        );
        registry.register("sessions", "Sessions by status", sessions.clone());
        let store_write_failures = Counter::default();
        registry.register(
            "store_write_failures",
            "Times the database writer stopped after a failed write (restart needed)",
            store_write_failures.clone(),
        );
        registry.register(
            "quota_exceeded",
            "Plugin host calls over a limit (refused, or log records cut or dropped), by the limit's config key",
            QUOTA_EXCEEDED.clone(),
        );
        Metrics {
            registry,
            events_in,
            events_out,
            handler_seconds,
            traps,
            reloads,
            http_requests,
            http_denied,
            http_errors,
            http_seconds,
            queue_depth,
            sessions,
            shadow_events,
            store_write_failures,
        }
    }

    /// Counts one call of `plugin` in `session` over the limit `quota` (its
    /// config key). Off the hot path: only refusals come here.
    pub fn quota_exceeded(session: &str, plugin: &str, quota: &'static str) {
        let labels = QuotaLabels {
            session: session.to_string(),
            plugin: plugin.to_string(),
            quota,
        };
        QUOTA_EXCEEDED.get_or_create(&labels).inc();
    }

    /// The handles of session `name`.
    pub fn session(&self, name: &str) -> SessionMetrics {
        let label = SessionLabel {
            session: name.to_string(),
        };
        SessionMetrics {
            events_in: self.events_in.get_or_create_owned(&label),
            events_out: self.events_out.get_or_create_owned(&label),
        }
    }

    /// The handles of plugin `name`.
    pub fn plugin(&self, name: &str) -> PluginMetrics {
        let label = PluginLabel {
            plugin: name.to_string(),
        };
        let reload = |result| ReloadLabels {
            plugin: name.to_string(),
            result,
        };
        PluginMetrics {
            handler_seconds: self.handler_seconds.get_or_create_owned(&label),
            traps: self.traps.get_or_create_owned(&label),
            reloads_ok: self.reloads.get_or_create_owned(&reload("ok")),
            reloads_failed: self.reloads.get_or_create_owned(&reload("error")),
            http: HttpMetrics {
                requests: self.http_requests.get_or_create_owned(&label),
                denied: self.http_denied.get_or_create_owned(&label),
                errors: self.http_errors.get_or_create_owned(&label),
                seconds: self.http_seconds.get_or_create_owned(&label),
            },
            shadow_events: self.shadow_events.clone(),
            name: name.to_string(),
        }
    }

    /// The text exposition, with the gauges set from `queues` (session,
    /// events waiting) and `states` (every session's status) read now.
    pub fn encode(&self, queues: &[(String, usize)], states: &[State]) -> String {
        self.queue_depth.clear();
        for (session, depth) in queues {
            let label = SessionLabel {
                session: session.clone(),
            };
            self.queue_depth.get_or_create(&label).set(*depth as i64);
        }
        for state in STATES {
            let count = states.iter().filter(|s| **s == state).count();
            let label = StatusLabel { status: state.as_str() };
            self.sessions.get_or_create(&label).set(count as i64);
        }
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}
