//! Capabilities: the host functions plugins import (purr's own interfaces,
//! and outbound HTTP through `wasi:http`).
//!
//! One module per WIT interface, each owning its state (held in
//! [`PluginState`], already scoped to one plugin in one session) and its
//! `add_to_linker`, the way Spin keeps each capability in its own factor.
//! Adding a capability touches its own module and one line in
//! [`add_to_linker`].
//!
//! Every capability is checked on the host side; a guest never gets more
//! than its own (plugin, session) scope.

pub mod config;
pub mod http;
pub mod kv;
pub mod log;
pub mod messaging;
pub mod timers;

use wasmtime::component::{HasSelf, Linker};

use crate::plugin::PluginState;
use crate::plugin::bindings::purr::bot::types;

/// `purr:bot/types` defines types only; linking it gives them their instance.
impl types::Host for PluginState {}

/// Links every capability of the `purr:bot/plugin` world into `linker`.
pub fn add_to_linker(linker: &mut Linker<PluginState>) -> anyhow::Result<()> {
    types::add_to_linker::<PluginState, HasSelf<PluginState>>(linker, |state| state)?;
    messaging::add_to_linker(linker)?;
    kv::add_to_linker(linker)?;
    config::add_to_linker(linker)?;
    timers::add_to_linker(linker)?;
    log::add_to_linker(linker)?;
    http::add_to_linker(linker)?;
    Ok(())
}
