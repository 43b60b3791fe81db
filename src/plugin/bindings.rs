//! Rust types and traits generated from `wit/purr.wit` (world `purr:bot/plugin`).
//!
//! Every import is async (host capabilities reach the database and the
//! network) and may trap (a capability can abort a misbehaving guest).

wasmtime::component::bindgen!({
    path: "wit",
    world: "purr:bot/plugin",
    imports: { default: async | trappable },
    exports: { default: async },
});
