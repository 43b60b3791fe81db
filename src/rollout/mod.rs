//! Safe rollout: trying a new version of a plugin on real traffic before
//! it serves.
//!
//! - [`sandbox`]: a session's scope whose effects stay inside — sends
//!   captured, kv copy-on-write over the live data, timers in memory, HTTP
//!   GET/HEAD only.
//! - [`compare`]: where two runs of an event differ (missing, extra,
//!   different text, other), per send.
//! - [`replay`]: `purr replay` — a session's journaled events through its
//!   chain with a candidate in place of one plugin, compared with what the
//!   live chain sent.
//! - [`shadow`]: a candidate that receives every live event of a plugin,
//!   off the sessions' path, compared with the live plugin; promoted by
//!   the normal hot-swap path.

pub mod compare;
pub mod replay;
pub mod sandbox;
pub mod shadow;
