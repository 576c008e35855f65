#!/usr/bin/env bash
# The typing and lint gate: mypy on src/ (config: [tool.mypy]), ruff's chosen rules ([tool.ruff.lint]) and the
# formatter's check. Exits non-zero when any of the three fails; runs all three either way.
set -u
cd "$(dirname "$0")/.."
status=0
echo "== mypy" && uv run mypy || status=1
echo "== ruff check" && uv run ruff check . || status=1
echo "== ruff format --check" && uv run ruff format --check . || status=1
exit $status
