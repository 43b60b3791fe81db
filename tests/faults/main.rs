//! The failure model, one fault per test: what an operator can run into,
//! and what purr does about it. Each test reproduces the fault as it was
//! found and checks the behaviour that replaced it (docs/design.md has the
//! table: fault → what purr does → what is lost → test). One module per
//! area.

#[path = "../common/mod.rs"]
mod common;

mod api;
mod keys;
mod quotas;
mod reload;
mod replay;
mod shutdown;
mod store;
mod terminal;
