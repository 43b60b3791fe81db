//! `tagged-v2`: answers every text with `v2 <text>` (see `../../tagged.rs`).

const VERSION: &str = "v2";

include!("../../tagged.rs");
