//! `tagged-v1`: answers every text with `v1 <text>` (see `../../tagged.rs`).

const VERSION: &str = "v1";

include!("../../tagged.rs");
