"""The Worker's upload size, compressed, against Cloudflare's limits (3 MB Free, 10 MB Paid).

What `pywrangler deploy` uploads is the project's src/ plus the vendored packages (python_modules/): the wheels the
edge tier loads (tests/edge/requirements-worker.txt, except the SDK, which workerd provides). This unpacks them,
drops what is never imported (tests, caches, .pyi stubs and dist-info metadata beyond what import needs) and gzips
the lot as wrangler would. Needs `bash scripts/edge-setup.sh` first. Usage: python3 scripts/worker-bundle-size.py
"""

from __future__ import annotations

import gzip
import io
import os
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WHEELS = Path(os.environ.get("EDGE_CACHE", ROOT / ".edge-cache")) / "wheels"
PROVIDED_BY_WORKERD = ("workers_runtime_sdk",)
MB = 1024 * 1024


def _keep(name: str) -> bool:
    return not (name.endswith((".pyc", ".pyi")) or "/tests/" in name or "__pycache__" in name)


def main() -> int:
    wheels = sorted(p for p in WHEELS.glob("*.whl") if not p.name.startswith(PROVIDED_BY_WORKERD))
    if not wheels:
        print(f"no wheels in {WHEELS}: run `bash scripts/edge-setup.sh` first", file=sys.stderr)
        return 1
    raw = io.BytesIO()
    files = 0
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as zf:
                for info in zf.infolist():
                    if info.is_dir() or not _keep(info.filename):
                        continue
                    data = zf.read(info)
                    entry = tarfile.TarInfo("python_modules/" + info.filename)
                    entry.size = len(data)
                    tar.addfile(entry, io.BytesIO(data))
                    files += 1
        for path in sorted((ROOT / "src").rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            tar.add(path, arcname=str(path.relative_to(ROOT)))
            files += 1
    compressed = len(gzip.compress(raw.getvalue(), compresslevel=9))
    print(
        f"Worker bundle: {files} files, {len(raw.getvalue()) / MB:.2f} MB raw, {compressed / MB:.2f} MB gzipped"
        f" ({len(wheels)} packages + src/)"
    )
    print(f"  Free plan limit 3 MB: {'fits' if compressed <= 3 * MB else 'TOO BIG'} ({compressed / (3 * MB):.0%})")
    print(f"  Paid plan limit 10 MB: {'fits' if compressed <= 10 * MB else 'TOO BIG'} ({compressed / (10 * MB):.0%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
