//! The dispatcher: runs one session's plugin chain over an event.
//!
//! Plugins run in the order the session lists them until one answers
//! `stop`. A plugin that returns an error or traps ends the chain for that
//! event (a failing middleware never lets an event through); the failure
//! is logged with session, plugin and event id, a trapped instance is
//! dropped and made afresh on the next event, and the session goes on.
//! Instances are made lazily, on the first event a plugin receives.

mod convert;

use std::sync::Arc;

use crate::channel::ChannelEvent;
use crate::plugin::bindings::purr::bot::types::{Context, Event, Flow, TimerFired};
use crate::plugin::{CallError, InstanceGauge, LoadedPlugin, PluginInstance, PluginState};
use crate::session::SessionScope;
use crate::store::TimerRow;

/// One plugin's place in a chain.
struct Slot {
    plugin: Arc<LoadedPlugin>,
    /// The plugin's settings for this session (overrides merged).
    settings: Arc<toml::Table>,
    instance: Option<PluginInstance>,
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
}

impl Chain {
    /// A chain of `plugins` (in order, each with its merged settings) for the session of `scope`.
    pub fn new(scope: SessionScope, plugins: Vec<(Arc<LoadedPlugin>, toml::Table)>, gauge: InstanceGauge) -> Self {
        let slots = plugins
            .into_iter()
            .map(|(plugin, settings)| Slot {
                plugin,
                settings: Arc::new(settings),
                instance: None,
            })
            .collect();
        Chain { scope, slots, gauge }
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
        for slot in &mut self.slots {
            if only.is_some_and(|name| name != &*slot.plugin.name) {
                continue;
            }
            match call(&self.scope, &self.gauge, slot, &ctx, event).await {
                Ok(Flow::Next) => continue,
                Ok(Flow::Stop) => break,
                Err(error) => {
                    let plugin = slot.plugin.name.to_string();
                    if matches!(error, CallError::Trap(_)) {
                        slot.instance = None;
                    }
                    tracing::warn!(
                        session = &*self.scope.session,
                        plugin,
                        event = event_id,
                        kind = event_kind(event),
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
}

/// Calls one slot, making its instance first if needed.
async fn call(
    scope: &SessionScope,
    gauge: &InstanceGauge,
    slot: &mut Slot,
    ctx: &Context,
    event: &Event,
) -> Result<Flow, CallError> {
    let instance = match &mut slot.instance {
        Some(instance) => instance,
        None => {
            let memory_bytes = (slot.plugin.config.memory_mb as usize) << 20;
            let state = PluginState::new(scope, &slot.plugin.name, slot.settings.clone(), memory_bytes);
            slot.instance
                .insert(PluginInstance::start(&slot.plugin, state, gauge).await?)
        }
    };
    instance.handle(ctx, event).await
}

fn event_kind(event: &Event) -> &'static str {
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
