#!/bin/sh
# Builds {{name}}.wasm with componentize-js (versions pinned in package-lock.json).
set -eu
cd "$(dirname "$0")"
[ -x node_modules/.bin/componentize-js ] || npm ci --no-audit --no-fund --loglevel=error
npm run --silent build
echo "built $(pwd)/{{name}}.wasm"
