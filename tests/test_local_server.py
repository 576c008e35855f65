"""The real local server (``voice-gateway dev``) over real HTTP on a free port, with vendor fakes on loopback.

This is what a user runs and what the Worker's ASGI adapter sees: a process, a socket, headers on the wire.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.conftest import vendor_env
from tests.fakes.audio import sine_wav
from tests.fakes.harness import FakeServer, free_port

ADMIN = "local-server-admin-token"


class LocalServer:
    def __init__(self, state_dir: Path, env: dict[str, str], extra_args: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.lines: list[str] = []
        full_env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
        full_env.update(env)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "runtimes.local.cli",
                "dev",
                "--port",
                str(self.port),
                "--state-dir",
                str(state_dir),
                "--log-level",
                "warning",
                *extra_args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=full_env,
            cwd=state_dir,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip())

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("server exited:\n" + "\n".join(self.lines))
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not start:\n" + "\n".join(self.lines))

    def dev_key(self) -> str:
        for line in self.lines:
            if "export VGW_KEY=" in line:
                return line.split("export VGW_KEY=", 1)[1].strip()
        raise AssertionError("no dev key printed:\n" + "\n".join(self.lines))

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def server(tmp_path: Path, openai_fake: FakeServer, deepgram_fake: FakeServer) -> Iterator[LocalServer]:
    env = {
        **vendor_env(openai_fake, deepgram_fake),
        "ADMIN_TOKEN": ADMIN,
        "ATTEMPT_TIMEOUT_SECONDS": "2",
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1] / "src")]),
    }
    srv = LocalServer(tmp_path, env)
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


def test_synthesize_then_failover_over_real_http(server: LocalServer, openai_fake: FakeServer) -> None:
    key = server.dev_key()
    auth = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=server.url, timeout=10) as client:
        r = client.post("/voice/synthesize", json={"text": "Hello from the local server."}, headers=auth)
        assert r.status_code == 200, r.text
        assert r.headers["x-provider"] == "openai" and r.headers["x-attempts"] == "1"
        assert r.headers["x-cost"] and r.headers["x-request-id"] and r.content

        # The vendor that answered stops answering: the next request goes through the other one.
        openai_fake.stop()
        try:
            r2 = client.post("/voice/synthesize", json={"text": "Hello again."}, headers=auth)
        finally:
            openai_fake.start()
        assert r2.status_code == 200, r2.text
        assert r2.headers["x-provider"] == "deepgram" and r2.headers["x-attempts"] == "2"

        failovers = client.get("/admin/failovers", headers={"Authorization": f"Bearer {ADMIN}"}).json()["failovers"]
        assert failovers[0]["requestId"] == r2.headers["x-request-id"]
        assert (failovers[0]["from"], failovers[0]["to"], failovers[0]["errorClass"]) == (
            "openai",
            "deepgram",
            "connection",
        )

        r = client.post("/voice/transcribe", content=sine_wav(1.5), headers={**auth, "Content-Type": "audio/wav"})
        assert r.status_code == 200, r.text
        assert r.json()["duration"] == pytest.approx(1.5, abs=0.01)

        usage = client.get("/usage", headers=auth).json()
        assert usage["totals"]["requests"] == 3
        assert usage["byResource"]["tts"]["characters"] == len("Hello from the local server.") + len("Hello again.")


def test_restart_keeps_state_and_does_not_print_the_key_again(tmp_path: Path) -> None:
    env = {"ADMIN_TOKEN": ADMIN, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    first = LocalServer(tmp_path, env)
    try:
        first.wait_ready()
        key = first.dev_key()
    finally:
        first.stop()
    second = LocalServer(tmp_path, env)
    try:
        second.wait_ready()
        assert not any("VGW_KEY" in line for line in second.lines)
        r = httpx.get(f"{second.url}/usage", headers={"Authorization": f"Bearer {key}"}, timeout=5)
        assert r.status_code == 200
    finally:
        second.stop()


def test_websocket_upgrade_right_after_start(server: LocalServer) -> None:
    """The server's WebSocket protocol is imported at the first upgrade or by the warm-up thread, whichever comes
    first (runtimes.local.cli.websocket_protocol): an upgrade straight after start-up reaches the gateway."""
    from websockets.sync.client import connect

    url = server.url.replace("http://", "ws://") + "/voice/speak-stream"
    with connect(url, additional_headers={"Authorization": "Bearer vgw_not-a-key"}, open_timeout=10) as ws:
        event = json.loads(ws.recv(timeout=10))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert event["type"] == "error" and event["error"]["type"] == "unauthorized"
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


def test_health_probes_run_once_the_server_accepts(server: LocalServer, openai_fake: FakeServer) -> None:
    """The health alarm's first probe waits until the server accepts and has warmed up (it would otherwise import
    the vendor transport before the first 200): it still reaches every keyed vendor, as a model listing."""
    deadline = time.monotonic() + 10
    while ("GET", "/v1/models") not in [(r.method, r.path) for r in openai_fake.state.requests]:
        assert time.monotonic() < deadline, "no health probe reached the vendor"
        time.sleep(0.05)
