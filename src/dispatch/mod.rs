//! The dispatcher: runs one session's plugin chain over an event.
//!
//! Plugins run in the order the session lists them until one answers
//! `stop`. A plugin that returns an error or traps ends the chain for that
//! event (a failing middleware never lets an event through); the failure
//! is logged with session, plugin and event id, and the session goes on.
//!
//! Instances are made lazily, on the first event a plugin receives, from
//! the version its [`PluginHandle`] serves at that moment; a reload is
//! noticed here, between events, so the event in flight finishes on the
//! code it started with. A trapped or worn-out instance is dropped and made
//! afresh for the next event. An instance that served no event for its
//! plugin's `idle_ms` is dropped too ([`Chain::release_idle`]), so idle
//! sessions hold no instances. A plugin that keeps trapping backs off
//! (exponentially, capped): events meanwhile fail at once for it instead
//! of paying for a crash each. Each call's duration goes to the plugin's
//! `purr_handler_duration_seconds` histogram.
//!
//! A plugin with a shadow (a candidate version, see [`crate::rollout::shadow`])
//! gets each event it handled, with its verdict and sends, handed to the
//! shadow after the event's last attempt ([`Chain::hand_to_shadows`]).
//!
//! A chain may mix wasm plugins and [`native`](crate::plugin::native)
//! handlers (Rust code in the host): both are [`PluginInstance`]s, made,
//! called, timed, dropped and backed off the same way here.

mod convert;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::capability::config::merge;
use crate::channel::ChannelEvent;
use crate::observe::HttpMetrics;
use crate::plugin::bindings::purr::bot::types::{Context, Event, Flow, TimerFired};
use crate::plugin::{CallError, InstanceGauge, LoadedPlugin, PluginHandle, PluginInstance};
use crate::rollout::shadow::{Offer, RunnerParts, ShadowRunner};
use crate::session::SessionScope;
use crate::store::TimerRow;

/// Consecutive traps a plugin gets for free before it backs off.
const FREE_RESTARTS: u32 = 2;
/// The first back-off pause; it doubles with every further trap.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// The longest back-off pause.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Waiting for room for an instance doubles its pause from 1 ms up to this.
const SHORTAGE_LAST_PAUSE: Duration = Duration::from_millis(256);

/// One plugin's place in a chain.
struct Slot {
    handle: Arc<PluginHandle>,
    /// This session's `[sessions.<name>.config.<plugin>]` table.
    overrides: Option<toml::Table>,
    /// The version the instance below is made from, and its generation.
    plugin: Arc<LoadedPlugin>,
    generation: u64,
    /// The plugin's settings for this session (overrides merged).
    settings: Arc<toml::Table>,
    instance: Option<PluginInstance>,
    /// When the instance last served an event.
    last_used: Instant,
    /// Traps in a row, and when the next instance may be made.
    consecutive_traps: u32,
    retry_at: Option<Instant>,
    /// This session's feed into the plugin's shadow, if it has one, and
    /// the handle's shadow generation it follows.
    shadow: Option<ShadowRunner>,
    shadow_generation: u64,
}

impl Slot {
    fn new(handle: Arc<PluginHandle>, overrides: Option<toml::Table>) -> Self {
        let plugin = handle.current();
        Slot {
            generation: handle.generation(),
            settings: Arc::new(merge(&plugin.config.settings, overrides.as_ref())),
            handle,
            overrides,
            plugin,
            instance: None,
            last_used: Instant::now(),
            consecutive_traps: 0,
            retry_at: None,
            shadow: None,
            shadow_generation: 0,
        }
    }

    /// Follows the plugin's shadow (attached, replaced, detached) and
    /// returns this session's runner for it, if there is one.
    fn follow_shadow(&mut self, scope: &SessionScope, gauge: &InstanceGauge) -> Option<ShadowRunner> {
        let generation = self.handle.shadow_generation();
        if generation != self.shadow_generation {
            self.shadow_generation = generation;
            self.shadow = self.handle.shadow().map(|shadow| {
                let settings = merge(&shadow.candidate().config.settings, self.overrides.as_ref());
                let parts = RunnerParts {
                    scope: scope.clone(),
                    settings: Arc::new(settings),
                    gauge: gauge.clone(),
                    http_metrics: self.handle.metrics().http.clone(),
                };
                ShadowRunner::spawn(shadow, parts)
            });
        }
        self.shadow.clone()
    }

    /// When the instance is to be dropped for idleness, if it is.
    fn idle_deadline(&self) -> Option<Instant> {
        let idle_ms = self.plugin.config.idle_ms;
        (self.instance.is_some() && idle_ms > 0).then(|| self.last_used + Duration::from_millis(idle_ms))
    }

    /// Moves to the serving version if it changed since the last event.
    fn follow_reload(&mut self) {
        let generation = self.handle.generation();
        if generation != self.generation {
            self.plugin = self.handle.current();
            self.generation = generation;
            self.settings = Arc::new(merge(&self.plugin.config.settings, self.overrides.as_ref()));
            self.instance = None;
            self.consecutive_traps = 0;
            self.retry_at = None;
        }
    }

    fn record_trap(&mut self, session: &str, error: &CallError, backoff: bool) {
        self.instance = None;
        self.consecutive_traps += 1;
        if backoff && let Some(pause) = crash_loop_pause(self.consecutive_traps) {
            self.retry_at = Some(Instant::now() + pause);
        }
        self.handle.trapped(session, self.consecutive_traps, error.to_string());
    }

    fn record_success(&mut self, session: &str) {
        if self.consecutive_traps > 0 {
            self.consecutive_traps = 0;
            self.retry_at = None;
            self.handle.recovered(session);
        }
    }
}

/// How an event fared in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every plugin answered `next`, or one answered `stop`.
    Handled,
    /// A plugin failed; the chain stopped there.
    Failed { plugin: String, error: String },
}

/// A session's plugin chain with its warm instances.
pub struct Chain {
    scope: SessionScope,
    slots: Vec<Slot>,
    gauge: InstanceGauge,
    /// The host's shortage count this chain last acted on.
    shortages_seen: u64,
    /// The current event for the shadows of the plugins it reached.
    offers: Vec<Offer>,
    /// Whether a trapping plugin backs off (not in a replay, where every
    /// event must run).
    backoff: bool,
}

impl Chain {
    /// A chain of `plugins` (in order, each with this session's overrides)
    /// for the session of `scope`.
    pub fn new(
        scope: SessionScope,
        plugins: Vec<(Arc<PluginHandle>, Option<toml::Table>)>,
        gauge: InstanceGauge,
    ) -> Self {
        let slots = plugins
            .into_iter()
            .map(|(handle, overrides)| Slot::new(handle, overrides))
            .collect();
        Chain {
            scope,
            slots,
            shortages_seen: gauge.shortages(),
            gauge,
            offers: Vec::new(),
            backoff: true,
        }
    }

    /// This chain with every event run on every plugin, however often one
    /// traps: for a replay, whose events come faster than any back-off.
    pub fn without_backoff(mut self) -> Self {
        self.backoff = false;
        self
    }

    /// When the next instance goes idle (see [`release_idle`](Self::release_idle)).
    pub fn next_idle_deadline(&self) -> Option<Instant> {
        self.slots.iter().filter_map(Slot::idle_deadline).min()
    }

    /// Drops every instance if some session reported a shortage since the
    /// last call (call it between events); the next event makes them afresh.
    pub fn release_on_shortage(&mut self) {
        let reported = self.gauge.shortages();
        if reported != self.shortages_seen {
            self.shortages_seen = reported;
            for slot in &mut self.slots {
                slot.instance = None;
            }
        }
    }

    /// The session's instance gauge (it carries the host's shortage signal).
    pub fn gauge(&self) -> &InstanceGauge {
        &self.gauge
    }

    /// Drops the instances idle past their plugin's `idle_ms`; the next
    /// event makes them afresh.
    pub fn release_idle(&mut self) {
        let now = Instant::now();
        for slot in &mut self.slots {
            if slot.idle_deadline().is_some_and(|deadline| deadline <= now) {
                slot.instance = None;
                tracing::debug!(
                    session = &*self.scope.session,
                    plugin = &*slot.plugin.name,
                    "idle instance dropped"
                );
            }
        }
    }

    /// Runs a network event through the whole chain.
    pub async fn dispatch(&mut self, event_id: &str, event: &ChannelEvent, self_jid: Option<String>) -> Outcome {
        let wit_event = convert::event(event);
        self.run(event_id, &wit_event, self_jid, None).await
    }

    /// The session is starting: tells every plugin.
    pub async fn dispatch_started(&mut self, event_id: &str, self_jid: Option<String>) -> Outcome {
        self.run(event_id, &Event::Started, self_jid, None).await
    }

    /// Delivers a due timer to the plugin that scheduled it.
    pub async fn dispatch_timer(&mut self, event_id: &str, timer: &TimerRow, self_jid: Option<String>) -> Outcome {
        let event = Event::Timer(TimerFired {
            id: timer.id.clone(),
            payload: timer.payload.clone(),
        });
        self.run(event_id, &event, self_jid, Some(&timer.plugin)).await
    }

    async fn run(&mut self, event_id: &str, event: &Event, self_jid: Option<String>, only: Option<&str>) -> Outcome {
        let ctx = Context {
            session: self.scope.session.to_string(),
            event_id: event_id.to_string(),
            self_jid,
        };
        let session = &*self.scope.session;
        self.offers.clear();
        for slot in &mut self.slots {
            if only.is_some_and(|name| name != &*slot.plugin.name) {
                continue;
            }
            if matches!(event, Event::Qr(_) | Event::PairCode(_)) && !slot.plugin.config.linking_codes {
                continue;
            }
            slot.follow_reload();
            let shadowed = slot.follow_shadow(&self.scope, &self.gauge);
            let mark = self.scope.sends.count();
            let result = call(&self.scope, &self.gauge, slot, &ctx, event).await;
            if let Some(runner) = shadowed {
                self.offers
                    .push(runner.offer(&ctx, event, &result, self.scope.sends.since(mark)));
            }
            match &result {
                Err(error @ CallError::Trap(_)) => slot.record_trap(session, error, self.backoff),
                Err(CallError::BackingOff { .. } | CallError::Unavailable(_)) => {}
                Ok(_) | Err(CallError::Plugin(_)) => slot.record_success(session),
            }
            match result {
                Ok(Flow::Next) => continue,
                Ok(Flow::Stop) => break,
                Err(error) => {
                    let plugin = slot.plugin.name.to_string();
                    if let CallError::Trap(trap) = &error {
                        tracing::debug!(session, plugin, event = event_id, "trap backtrace: {trap:?}");
                    }
                    tracing::warn!(
                        session,
                        plugin,
                        event = event_id,
                        kind = event_kind(event),
                        generation = slot.generation,
                        error = %error,
                        "plugin failed; event chain ended"
                    );
                    return Outcome::Failed {
                        plugin,
                        error: error.to_string(),
                    };
                }
            }
        }
        Outcome::Handled
    }

    /// Hands the last event to the shadows of the plugins it reached (call
    /// once per event, after its last attempt): each compares its candidate
    /// with what the live plugin did, off the session's path.
    pub fn hand_to_shadows(&mut self) {
        for offer in self.offers.drain(..) {
            offer.hand_over();
        }
    }
}

/// Calls one slot, making its instance first if needed.
async fn call(
    scope: &SessionScope,
    gauge: &InstanceGauge,
    slot: &mut Slot,
    ctx: &Context,
    event: &Event,
) -> Result<Flow, CallError> {
    if let Some(retry_at) = slot.retry_at {
        let now = Instant::now();
        if now < retry_at {
            return Err(CallError::BackingOff {
                traps: slot.consecutive_traps,
                retry_in: retry_at - now,
            });
        }
    }
    let instance = match &mut slot.instance {
        Some(instance) => instance,
        None => {
            let (plugin, settings) = (slot.plugin.clone(), slot.settings.clone());
            let http_metrics = &slot.handle.metrics().http;
            slot.instance
                .insert(instantiate(scope, gauge, &plugin, settings, http_metrics).await?)
        }
    };
    let started = Instant::now();
    slot.last_used = started;
    let flow = instance.handle(ctx, event).await;
    slot.handle
        .metrics()
        .handler_seconds
        .observe(started.elapsed().as_secs_f64());
    if instance.worn_out() {
        slot.instance = None;
    }
    flow
}

/// Makes the slot's instance. If the host has no room (every pool slot,
/// fiber stack or memory mapping in use), idle sessions are asked to give
/// theirs back and the attempt is repeated, for up to about half a second.
async fn instantiate(
    scope: &SessionScope,
    gauge: &InstanceGauge,
    plugin: &LoadedPlugin,
    settings: Arc<toml::Table>,
    http_metrics: &HttpMetrics,
) -> Result<PluginInstance, CallError> {
    let mut pause = Duration::from_millis(1);
    loop {
        match PluginInstance::start(plugin, scope, settings.clone(), gauge, http_metrics).await {
            Err(CallError::Unavailable(reason)) if pause <= SHORTAGE_LAST_PAUSE => {
                tracing::debug!(session = &*scope.session, plugin = &*plugin.name, %reason, "no room for an instance; asking idle sessions");
                gauge.report_shortage();
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            result => return result,
        }
    }
}

/// How long a plugin that trapped `traps` times in a row is not run
/// again: nothing for the first [`FREE_RESTARTS`], then [`FIRST_BACKOFF`]
/// doubling up to [`MAX_BACKOFF`]. Shadows back off by the same rule.
pub(crate) fn crash_loop_pause(traps: u32) -> Option<Duration> {
    let doublings = traps.checked_sub(FREE_RESTARTS + 1)?.min(16);
    Some((FIRST_BACKOFF * 2u32.pow(doublings)).min(MAX_BACKOFF))
}

/// The event's kind, as the logs name it.
pub(crate) fn event_kind(event: &Event) -> &'static str {
    match event {
        Event::Started => "started",
        Event::Qr(_) => "qr",
        Event::PairCode(_) => "pair-code",
        Event::Connected(_) => "connected",
        Event::Disconnected(_) => "disconnected",
        Event::LoggedOut(_) => "logged-out",
        Event::Message(_) => "message",
        Event::Receipt(_) => "receipt",
        Event::Presence(_) => "presence",
        Event::ChatState(_) => "chat-state",
        Event::GroupUpdate(_) => "group-update",
        Event::Timer(_) => "timer",
    }
}
