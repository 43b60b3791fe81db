#!/bin/sh
# Builds {{name}}.wasm: esbuild bundles plugin.js with the SDK (purr-sdk/),
# componentize-js makes the component (versions pinned in package-lock.json),
# through purr-sdk/build/componentize.mjs, which rewrites componentize-js's
# generated bindings to run faster (the same component otherwise).
#
# With `"purr": { "http": true }` in package.json the plugin gets `fetch`
# (over wasi:http; list the hosts in the plugin's `allowed_hosts` in
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
if node -e 'process.exit(require("./package.json").purr?.http === true ? 0 : 1)'; then
    wit=wit
    disable="fetch-event stdio random clocks"
else
    wit=.build/wit
    disable="http fetch-event stdio random clocks"
    sed '/^[[:space:]]*import wasi:http\/outgoing-handler@/d' wit/purr.wit >.build/wit/purr.wit
fi
# shellcheck disable=SC2086 # $disable is a list
PURR_COMPONENTIZE_JS=node_modules/@bytecodealliance/componentize-js \
    node purr-sdk/build/componentize.mjs .build/plugin.js --wit "$wit" --world-name plugin -d $disable -o {{name}}.wasm
echo "built $(pwd)/{{name}}.wasm"
