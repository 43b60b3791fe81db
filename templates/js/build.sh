#!/bin/sh
# Builds {{name}}.wasm: esbuild bundles plugin.js with the SDK (purr-sdk/),
# then purr-sdk/build/componentize.mjs makes the component on the engine
# package.json names (versions pinned in package-lock.json):
# - "engine": "quickjs" (componentize-qjs): small components and fast calls;
#   handlers must be synchronous (no event loop) and there is no fetch;
# - "engine": "starlingmonkey" (componentize-js, its generated bindings
#   rewritten to run faster): async handlers, fetch, the web APIs.
#
# With `"purr": { "http": true }` (StarlingMonkey only) the plugin gets
# `fetch` (over wasi:http; list the hosts in the plugin's `allowed_hosts` in
# purr.toml); otherwise it is built without that import.
set -eu
cd "$(dirname "$0")"
if ! [ -x node_modules/.bin/componentize-js ] || ! [ -x node_modules/.bin/esbuild ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
rm -rf .build && mkdir -p .build/wit
node_modules/.bin/esbuild plugin.js --bundle --format=esm --platform=neutral --main-fields=module,main \
    --alias:purr-sdk=./purr-sdk --external:'purr:bot/*' --external:'wasi:*' --log-level=warning \
    --outfile=.build/plugin.js
engine=$(node -p 'require("./package.json").purr?.engine ?? "starlingmonkey"')
if node -e 'process.exit(require("./package.json").purr?.http === true ? 0 : 1)'; then
    if [ "$engine" = quickjs ]; then
        echo 'package.json: "http": true needs "engine": "starlingmonkey" (QuickJS plugins have no fetch)' >&2
        exit 1
    fi
    wit=wit
    disable="fetch-event stdio random clocks"
else
    wit=.build/wit
    disable="http fetch-event stdio random clocks"
    sed '/^[[:space:]]*import wasi:http\/outgoing-handler@/d' wit/purr.wit >.build/wit/purr.wit
fi
if [ "$engine" = quickjs ]; then options="--engine quickjs"; else options="--engine $engine -d $disable"; fi
# shellcheck disable=SC2086 # $options is a list
PURR_COMPONENTIZE_JS=node_modules/@bytecodealliance/componentize-js \
    node purr-sdk/build/componentize.mjs .build/plugin.js --wit "$wit" --world-name plugin $options -o {{name}}.wasm
echo "built $(pwd)/{{name}}.wasm"
