#!/usr/bin/env bash
# Installs the two gateways bench/overhead compares against, outside the project's own environment, into
# .bench-cache/ (git-ignored). Not part of CI: benchmarks are run by hand.
#   LiteLLM proxy (PyPI)            -> .bench-cache/litellm-venv   (its own venv; `litellm` CLI)
#   Portkey AI Gateway (npm)        -> .bench-cache/portkey        (Node; build/start-server.js)
# Then: uv run python -m bench.overhead.run   (it measures them whenever they are installed here)
set -euo pipefail

# The newest LiteLLM whose [proxy] extra resolves from PyPI today: later ones (1.110.2 checked) pin litellm-proxy /
# litellm-proxy-extras releases that PyPI does not have.
LITELLM_VERSION=1.108.7
PORTKEY_VERSION=1.15.2
# Portkey's Node build breaks on /v1/audio/speech with @hono/node-server >= 1.14 (its responses then carry the
# upstream fetch's immutable Headers and Portkey's header writes throw "TypeError: immutable" -> 500; Portkey issue
# #1389). 1.13.8 is the last release without that change; chat works with either.
HONO_NODE_SERVER_VERSION=1.13.8

cd "$(dirname "$0")/../.."
mkdir -p .bench-cache

if [ ! -x .bench-cache/litellm-venv/bin/litellm ] || \
   ! .bench-cache/litellm-venv/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('litellm') != '$LITELLM_VERSION')"; then
  uv venv --quiet --clear --python 3.11 .bench-cache/litellm-venv
  uv pip install --quiet --python .bench-cache/litellm-venv/bin/python "litellm[proxy]==$LITELLM_VERSION"
fi

mkdir -p .bench-cache/portkey
cat > .bench-cache/portkey/package.json <<JSON
{
  "name": "vgw-bench-portkey",
  "private": true,
  "dependencies": {"@portkey-ai/gateway": "$PORTKEY_VERSION"},
  "overrides": {"@hono/node-server": "$HONO_NODE_SERVER_VERSION"}
}
JSON
# Portkey's only install script is `patch-package`, which has no patches to apply in the published package.
npm install --prefix .bench-cache/portkey --no-audit --no-fund --ignore-scripts

version() { node -p "require('./.bench-cache/portkey/node_modules/$1/package.json').version"; }
echo "LiteLLM $(.bench-cache/litellm-venv/bin/python -c 'import importlib.metadata as m; print(m.version("litellm"))')," \
     "Portkey gateway $(version @portkey-ai/gateway) (@hono/node-server $(version @hono/node-server)), Node $(node --version)"
