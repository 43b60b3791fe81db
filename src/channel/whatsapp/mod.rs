//! The WhatsApp channel: one whatsapp-rust `Bot` per session.
//!
//! - [`store`]: whatsapp-rust's storage traits on purr's database, every
//!   row keyed by session name (device identity, Signal sessions, prekeys,
//!   sender keys, app-state keys, LID mappings, ...).
//! - `inbound`: protocol events → [`ChannelEvent`](super::ChannelEvent)s
//!   and session status.
//! - `outbound`: [`Outbound`](super::Outbound) actions and media downloads
//!   → client calls.

mod inbound;
mod outbound;
pub mod store;
