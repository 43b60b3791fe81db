//! Rust types and traits generated from `wit/purr.wit` (world `purr:bot/plugin`).
//!
//! Every purr import is async (host capabilities reach the database and the
//! network) and may trap (a capability can abort a misbehaving guest). The
//! WASI interfaces the world imports (`wasi:http/outgoing-handler` and what
//! it uses) are wasmtime's own: their types come from `wasmtime-wasi` and
//! `wasmtime-wasi-http`, and [`capability::http`](crate::capability::http)
//! links their implementation.

wasmtime::component::bindgen!({
    path: "wit",
    world: "purr:bot/plugin",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
    },
});
