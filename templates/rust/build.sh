#!/bin/sh
# Builds {{name}}.wasm: a Rust crate compiled for wasm32-wasip2 (a component).
set -eu
cd "$(dirname "$0")"
rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
cargo build --release --target wasm32-wasip2
cp "${CARGO_TARGET_DIR:-target}/wasm32-wasip2/release/{{crate}}.wasm" {{name}}.wasm.tmp
mv {{name}}.wasm.tmp {{name}}.wasm
echo "built $(pwd)/{{name}}.wasm"
