#!/bin/sh
# Builds {{name}}.wasm with componentize-py (pinned in requirements.txt, installed into .venv),
# with the SDK (purr-sdk/purr_sdk, written by `purr new`) on its path.
set -eu
cd "$(dirname "$0")"
if ! [ -x .venv/bin/componentize-py ]; then
    python3 -m venv .venv
    .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
fi
.venv/bin/componentize-py -d wit -w plugin componentize -p src -p purr-sdk app -o {{name}}.wasm >/dev/null
echo "built $(pwd)/{{name}}.wasm"
