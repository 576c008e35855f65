"""Streaming overheads on loopback: what the gateway adds on top of the vendor.

1. TTFB of ``POST /voice/stream`` vs the same request straight to the Deepgram fake's ``/v1/speak`` (one sentence,
   linear16). 2. Per-frame round trip of ``/voice/realtime`` vs a direct WebSocket to the Nova fake: send half a
   second of audio, time until the vendor's Results for it arrives.

Run: ``uv run python bench/stream/run.py [--n 300]`` (from the repo root). Prints p50/p90/p99 and the overheads.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

import httpx  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from tests.conftest import ADMIN_TOKEN  # noqa: E402
from tests.fakes.deepgram_ws import word_audio  # noqa: E402
from tests.fakes.harness import free_port  # noqa: E402
from tests.gateway.streaming.conftest import GatewayServer  # noqa: E402

TEXT = "The quick brown fox jumps over the lazy dog."
SPEAK_QUERY = "model=aura-2-thalia-en&encoding=linear16&container=none&sample_rate=24000"


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50": statistics.median(ordered), "p90": pick(0.90), "p99": pick(0.99)}


def fmt(name: str, ms: dict[str, float]) -> str:
    return f"  {name:<34} p50 {ms['p50']:7.3f} ms   p90 {ms['p90']:7.3f} ms   p99 {ms['p99']:7.3f} ms"


async def first_byte(client: httpx.AsyncClient, method: str, url: str, **kwargs: object) -> float:
    started = time.perf_counter()
    async with client.stream(method, url, **kwargs) as response:  # type: ignore[arg-type]
        assert response.status_code == 200, (await response.aread())[:300]
        elapsed = None
        async for chunk in response.aiter_bytes():
            if chunk and elapsed is None:
                elapsed = time.perf_counter() - started
        assert elapsed is not None
    return elapsed * 1000


async def bench_ttfb(gw: GatewayServer, fake: FakeProcess, n: int) -> tuple[dict[str, float], dict[str, float]]:
    direct, via = [], []
    headers = {"Authorization": f"Bearer {gw.key}"}
    body = {"text": TEXT, "voiceConfig": {"format": "pcm", "sampleRate": 24000}, "provider": "deepgram"}
    async with httpx.AsyncClient(timeout=10) as client:
        for i in range(n + 20):
            d = await first_byte(
                client,
                "POST",
                f"{fake.url}/v1/speak?{SPEAK_QUERY}",
                json={"text": TEXT},
                headers={"Authorization": "Token test-deepgram-key"},
            )
            g = await first_byte(client, "POST", f"{gw.url}/voice/stream", json=body, headers=headers)
            if i >= 20:  # warm-up: connection pools, caches, first imports
                direct.append(d)
                via.append(g)
    return percentiles(direct), percentiles(via)


async def round_trips(url: str, headers: dict[str, str], n: int) -> list[float]:
    frame = word_audio(3, 0.5)  # half a second: the Nova fake answers every 0.5 s of audio
    out = []
    async with connect(url, additional_headers=headers, max_size=None) as ws:
        for _ in range(n):
            started = time.perf_counter()
            await ws.send(frame)
            while True:
                message = json.loads(await ws.recv())
                if message.get("type") in ("Results", "transcript"):
                    break
            out.append((time.perf_counter() - started) * 1000)
        await ws.send(json.dumps({"type": "CloseStream"}))
    return out


async def bench_relay(gw: GatewayServer, fake: FakeProcess, n: int) -> tuple[dict[str, float], dict[str, float]]:
    direct_url = f"{fake.ws_url}/v1/listen?model=nova-3&encoding=linear16&sample_rate=16000&interim_results=true"
    direct = await round_trips(direct_url, {"Authorization": "Token test-deepgram-key"}, n + 20)
    via = await round_trips(
        f"{gw.ws_url}/voice/realtime?model=nova-3&sample_rate=16000", {"Authorization": f"Bearer {gw.key}"}, n + 20
    )
    return percentiles(direct[20:]), percentiles(via[20:])


class FakeProcess:
    """A vendor fake in a child process, reachable like a ``FakeServer``."""

    def __init__(self, module: str) -> None:
        self.port = free_port()
        self.url, self.ws_url = f"http://127.0.0.1:{self.port}", f"ws://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).parent / "fake_process.py"), module, str(self.port)]
        )

    def __enter__(self) -> FakeProcess:
        for _ in range(300):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.02)
        raise RuntimeError("fake process did not start")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(10)


async def main(n: int) -> None:
    with FakeProcess("deepgram") as http_fake, FakeProcess("deepgram_ws") as ws_fake:
        env = {"DEEPGRAM_API_KEY": "test-deepgram-key", "REALTIME_STALL_SECONDS": "30"}
        tts_gw = GatewayServer({**env, "DEEPGRAM_BASE_URL": http_fake.url}).start()
        stt_gw = GatewayServer({**env, "DEEPGRAM_BASE_URL": ws_fake.url}).start()
        try:
            for gw in (tts_gw, stt_gw):
                await gw.setup_workspace()
                async with httpx.AsyncClient(base_url=gw.url) as client:
                    r = await client.patch(f"/admin/workspaces/{gw.workspace_id}", headers={
                        "Authorization": f"Bearer {ADMIN_TOKEN}"}, json={"limits": {
                        "requestsPerMinute": 1_000_000, "requestsPerHour": 1_000_000}})  # fmt: skip
                    assert r.status_code == 200, r.text
            direct, via = await bench_ttfb(tts_gw, http_fake, n)
            print(f"TTFB, {n} requests (one sentence, linear16 24 kHz, Deepgram fake):")
            print(fmt("direct to the vendor fake", direct))
            print(fmt("POST /voice/stream", via))
            print(f"  overhead p50 {via['p50'] - direct['p50']:.3f} ms, p99 {via['p99'] - direct['p99']:.3f} ms")
            direct, via = await bench_relay(stt_gw, ws_fake, n)
            print(f"Realtime relay, {n} frames of 0.5 s (Nova fake answers each):")
            print(fmt("direct WebSocket to the fake", direct))
            print(fmt("/voice/realtime", via))
            print(f"  overhead p50 {via['p50'] - direct['p50']:.3f} ms, p99 {via['p99'] - direct['p99']:.3f} ms")
        finally:
            tts_gw.stop()
            stt_gw.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    asyncio.run(main(parser.parse_args().n))
