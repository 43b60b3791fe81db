//! `purr:bot/log`: plugin log records into the host's `tracing` output,
//! tagged with session, plugin and the event being handled.

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use crate::plugin::PluginState;
use crate::plugin::bindings::purr::bot::log::{self as wit, Host, Level};

/// Where plugin log records go, for `RUST_LOG` filtering.
const TARGET: &str = "purr::plugin::log";

/// The log capability of one instance.
pub struct Log {
    session: Arc<str>,
    plugin: Arc<str>,
    /// The event being handled, set by the instance before each call.
    pub(crate) event_id: String,
}

impl Log {
    pub fn new(session: Arc<str>, plugin: Arc<str>) -> Self {
        Log {
            session,
            plugin,
            event_id: String::new(),
        }
    }
}

impl Host for Log {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let (session, plugin, event) = (&*self.session, &*self.plugin, self.event_id.as_str());
        match level {
            Level::Trace => tracing::trace!(target: TARGET, session, plugin, event, "{message}"),
            Level::Debug => tracing::debug!(target: TARGET, session, plugin, event, "{message}"),
            Level::Info => tracing::info!(target: TARGET, session, plugin, event, "{message}"),
            Level::Warn => tracing::warn!(target: TARGET, session, plugin, event, "{message}"),
            Level::Error => tracing::error!(target: TARGET, session, plugin, event, "{message}"),
        }
        Ok(())
    }
}

pub fn add_to_linker(linker: &mut Linker<PluginState>) -> anyhow::Result<()> {
    wit::add_to_linker::<PluginState, HasSelf<Log>>(linker, |state| &mut state.log)?;
    Ok(())
}
