//! purr: a bot runtime. Chat sessions (accounts) routed into sandboxed
//! WebAssembly plugins.
//!
//! # Layout
//!
//! Data flows top to bottom:
//!
//! - [`config`]: the TOML file, validated, with errors naming file:line:col and key.
//! - [`supervisor`]: every session of the host and its lifecycle
//!   (connect, start, disconnect, destroy, list, stop).
//! - [`session`]: one session at run time: journal stage, bounded ordered
//!   queue, task, outbox sender, status.
//! - [`channel`]: the network side of a session (`sim`, `whatsapp`).
//! - [`dispatch`]: the plugin chain of a session (`next` / `stop`).
//! - [`plugin`]: the wasmtime engine, compiled plugins, instances.
//! - [`capability`]: what plugins may import: messaging, kv, config, timers, log.
//! - [`store`]: the database (sqlx, SQLite by default) and its group-commit writer.
//! - [`rollout`]: trying a new plugin version on real traffic: sandboxed
//!   replay of the journal, live shadow runs, promotion.
//! - [`reload`]: watches the config and plugin files and applies changes live.
//! - [`observe`]: the host's live event bus and metrics.
//! - [`control`]: the HTTP control API (token, sessions, plugins, live events, metrics, OpenAPI).
//! - [`cli`]: the `purr` command line.
//!
//! The plugin contract is `wit/purr.wit` (package `purr:bot`).

// purr's library is its own internals (the binary, benches and tests use
// it): module docs name private items by design, and are read with
// `cargo doc --document-private-items`.
#![allow(rustdoc::private_intra_doc_links)]

// The fake-server shortcut skips WhatsApp's certificate check: tests only.
#[cfg(all(feature = "fake-whatsapp-server", not(debug_assertions)))]
compile_error!("feature `fake-whatsapp-server` is for tests only and must not be built into a release");

pub mod capability;
pub mod channel;
pub mod cli;
pub mod config;
pub mod control;
pub mod dispatch;
pub mod observe;
pub mod plugin;
pub mod reload;
pub mod rollout;
pub mod session;
pub mod store;
pub mod supervisor;
mod util;
