"""LiteLLM proxy and the Portkey AI Gateway as benchmark targets, when ``bench/overhead/install-competitors.sh`` has
put them in ``.bench-cache/``. Each is started as its own server process, pointed at the same OpenAI fake as the
gateway, configured as a production user would run it with the least work per request:

- LiteLLM proxy (uvicorn, one worker like the gateway's one process): a ``model_list`` config with ``tts-1`` and
  ``gpt-4o-mini`` on the fake's ``/v1``; a master key (auth on), no database (so no spend logs or virtual-key
  lookups), ``set_verbose: false``, ``LITELLM_LOG=ERROR``, the bundled model cost map (no fetch at start).
- Portkey (Node, one process): ``NODE_ENV=production`` and ``--headless`` (no console UI or log stream); requests
  carry ``x-portkey-provider: openai``, ``x-portkey-custom-host: <fake>/v1`` and the vendor key in ``Authorization``
  (Portkey's self-hosted "provider + custom host" mode: no config store, no cache).

Both serve ``POST /v1/audio/speech`` and ``POST /v1/chat/completions``; ``/voice/synthesize`` is the gateway's own.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench._procs import ROOT, Process, free_port

CACHE = ROOT / ".bench-cache"
LITELLM = CACHE / "litellm-venv" / "bin" / "litellm"
PORTKEY = CACHE / "portkey" / "node_modules" / "@portkey-ai" / "gateway"
LITELLM_KEY = "sk-vgw-bench-master-key"


@dataclass
class Competitor:
    name: str
    version: str
    process: Process
    url: str
    headers: dict[str, str]
    config: Path | None = field(default=None)

    @property
    def pid(self) -> int:
        return self.process.proc.pid

    def stop(self) -> None:
        self.process.stop()
        if self.config is not None:
            self.config.unlink(missing_ok=True)


def installed() -> dict[str, bool]:
    return {"litellm": LITELLM.exists(), "portkey": (PORTKEY / "build" / "start-server.js").exists()}


def start_litellm(fake_url: str, vendor_key: str) -> Competitor:
    version = subprocess.run(
        [str(LITELLM.parent / "python"), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    deployment = {"api_base": f"{fake_url}/v1", "api_key": vendor_key}
    config = {  # JSON is YAML
        "model_list": [
            {"model_name": "tts-1", "litellm_params": {"model": "openai/tts-1", **deployment},
             "model_info": {"mode": "audio_speech"}},
            {"model_name": "gpt-4o-mini", "litellm_params": {"model": "openai/gpt-4o-mini", **deployment}},
        ],
        "general_settings": {"master_key": LITELLM_KEY},
        "litellm_settings": {"set_verbose": False, "request_timeout": 30},
    }  # fmt: skip
    with tempfile.NamedTemporaryFile("w", prefix="vgw-bench-litellm-", suffix=".yaml", delete=False) as fh:
        json.dump(config, fh)
    port = free_port()
    env = {
        "LITELLM_LOG": "ERROR",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # the cost map bundled with the package: no fetch from GitHub
        "PYTHONPATH": "",  # not the gateway's src/ (its packages must not shadow anything of LiteLLM's)
    }
    # The console script is a Python file run directly: the process we measure is the server, not a wrapper.
    proc = Process(
        [str(LITELLM), "--config", fh.name, "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"],
        env=env,
        cwd=str(CACHE),
    )
    url = f"http://127.0.0.1:{port}"
    proc.wait_http(url + "/health/liveliness", timeout=120)
    return Competitor("litellm", version, proc, url, {"Authorization": f"Bearer {LITELLM_KEY}"}, Path(fh.name))


def start_portkey(fake_url: str, vendor_key: str) -> Competitor:
    version = json.loads((PORTKEY / "package.json").read_text())["version"]
    hono = json.loads((CACHE / "portkey" / "node_modules" / "@hono" / "node-server" / "package.json").read_text())
    port = free_port()
    proc = Process(
        ["node", "--import", (Path(__file__).parent / "loopback.mjs").as_uri(),
         str(PORTKEY / "build" / "start-server.js"), f"--port={port}", "--headless"],
        env={"NODE_ENV": "production"},
        cwd=str(CACHE / "portkey"),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    proc.wait_http(url + "/", timeout=60)
    headers = {
        "Authorization": f"Bearer {vendor_key}",
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": f"{fake_url}/v1",
    }
    return Competitor("portkey", f"{version} (@hono/node-server {hono['version']})", proc, url, headers)


def start_installed(fake_url: str, vendor_key: str) -> list[Competitor]:
    available = installed()
    started: list[Competitor] = []
    try:
        if available["litellm"]:
            started.append(start_litellm(fake_url, vendor_key))
        if available["portkey"]:
            started.append(start_portkey(fake_url, vendor_key))
    except Exception:
        for competitor in started:
            competitor.stop()
        raise
    return started


def check_response(url: str, body: dict, headers: dict[str, str], expected: bytes) -> None:
    """One request before measuring: the target must answer 200 with what the fake sent (the same MP3 bytes, or the
    same chat completion text), so wrk's figures are for working requests."""
    r = httpx.post(url, json=body, headers=headers, timeout=30)
    if r.status_code != 200:
        raise RuntimeError(f"{url} answered {r.status_code}: {r.text[:300]}")
    if body.get("messages"):
        got = r.json()["choices"][0]["message"]["content"]
        want = json.loads(expected)["choices"][0]["message"]["content"]
        if got != want:
            raise RuntimeError(f"{url} answered {got!r}, the fake said {want!r}")
    elif r.content != expected:
        raise RuntimeError(f"{url} answered {len(r.content)} bytes that are not the fake's {len(expected)}")
