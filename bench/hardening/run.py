"""Figures for issue 11 (``uv run python -m bench.hardening.run``): time to 400 for nested JSON, the built-in
recognizer's time on hostile audio (refused now; what the same audio cost before, with ``--before``), how long 50
slow-header clients keep their sockets, usage rows lost over repeated ``kill -9`` under load, and how much of a
budget concurrent requests fill and by how much sequential ones pass it. Processes are real: the fake vendor and
``voice-gateway dev`` each in their own."""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import signal
import socket
import sqlite3
import statistics
import struct
import time
from pathlib import Path

import httpx

from bench._procs import start_fake, start_gateway


def nested_json(url: str, key: str, rounds: int) -> None:
    shapes = {"[ x 1000 (1 KB)": b"[" * 1000, '{"a": x 1000': b'{"a":' * 1000, "[{ x 50,000 (100 KB)": b"[{" * 50_000}
    auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    with httpx.Client(base_url=url, timeout=30) as client:
        for name, body in shapes.items():
            times, statuses = [], set()
            for _ in range(rounds):
                started = time.perf_counter()
                r = client.post("/voice/synthesize", content=body, headers=auth)
                times.append((time.perf_counter() - started) * 1000)
                statuses.add(r.status_code)
            times.sort()
            print(
                f"  nested JSON {name:<22} → {sorted(statuses)}  p50 {statistics.median(times):6.2f} ms  "
                f"max {times[-1]:6.2f} ms  ({rounds} requests)"
            )


def wav(rate: int, data: bytes, channels: int = 1, bits: int = 16) -> bytes:
    align = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * align, align, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


async def hostile_audio(before: bool) -> None:
    from providers.base import Call, TranscriptionRequest
    from providers.local import LocalProvider
    from providers.local.provider import _sphinx

    provider = LocalProvider()
    hostile = {"1 KB WAV at 1 Hz": wav(1, bytes(1024)), "1 KB WAV at 2 Hz, 2 ch": wav(2, bytes(1024), channels=2)}
    async with httpx.AsyncClient() as http:
        call = Call(http=http, credentials=provider.credentials_from_env({}), timeout=120)  # type: ignore[arg-type]
        await provider.probe(call)  # engines loaded: what follows is the request itself
        for name, audio in hostile.items():
            started = time.perf_counter()
            try:
                await provider.transcribe(call, TranscriptionRequest(audio=audio, content_type="audio/wav"))
                outcome = "transcribed"
            except Exception as exc:  # noqa: BLE001 - the outcome is what is printed
                outcome = f"{getattr(exc, 'error_class', type(exc).__name__)}"
            print(f"  built-in recognizer, {name:<24} → {outcome}  in {(time.perf_counter() - started) * 1000:.1f} ms")
        if before:  # the old path: decode, resample to 16 kHz, recognize — what the same upload cost before
            from providers.local.audio_io import decode_to_mono, resample

            started = time.perf_counter()
            samples, rate = decode_to_mono(hostile["1 KB WAV at 1 Hz"], "audio/wav")
            pcm = resample(samples, rate, 16000).astype("<i2").tobytes()
            await _sphinx.recognize(pcm)
            print(
                f"  before (decode + resample + recognize the 1 Hz WAV): {time.perf_counter() - started:.1f} s, "
                f"{len(pcm) / 2**20:.0f} MiB of PCM for {len(pcm) / 32000:.0f} s of 'audio'"
            )
    _sphinx.close()


def slow_headers(url: str, count: int = 50) -> None:
    host, port = url.rsplit(":", 1)
    socks = [socket.create_connection((host.removeprefix("http://"), int(port))) for _ in range(count)]
    for sock in socks:  # a valid start, then one header byte at a time that never ends
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    started = time.monotonic()
    closed_at: dict[int, float] = {}
    while len(closed_at) < count and time.monotonic() - started < 60:
        for i, sock in enumerate(socks):
            if i in closed_at:
                continue
            try:
                sock.send(b"X")
                sock.setblocking(False)
                try:
                    if sock.recv(4096) == b"":
                        closed_at[i] = time.monotonic() - started
                except BlockingIOError:
                    pass
                except OSError:
                    closed_at[i] = time.monotonic() - started
                sock.setblocking(True)
            except OSError:
                closed_at[i] = time.monotonic() - started
        time.sleep(0.25)
    for sock in socks:
        sock.close()
    times = sorted(closed_at.values())
    print(
        f"  {count} clients sending headers byte by byte: {len(times)} closed by the server, first after "
        f"{times[0]:.1f} s, last after {times[-1]:.1f} s"
        if times
        else f"  none of {count} closed in 60 s"
    )


async def crash_rows(fake_url: str, kills: int, seed: int) -> None:
    rng = random.Random(seed)
    env = {"OPENAI_API_KEY": "test-openai-key", "OPENAI_BASE_URL": f"{fake_url}/v1"}
    seen: dict[str, bool] = {}
    state = None
    lost_total = served_total = 0
    for _ in range(kills):
        proc, url, key, state_dir = start_gateway(env) if state is None else _restart(env, state)
        state = state_dir, key
        stop = asyncio.Event()
        before = len(seen)

        async def load() -> None:
            async with httpx.AsyncClient(base_url=url, timeout=10, limits=httpx.Limits(max_connections=16)) as c:

                async def worker(n: int) -> None:
                    i = 0
                    while not stop.is_set():
                        i += 1
                        try:
                            r = await c.post("/voice/synthesize", json={"text": f"Load {n}.{i}."},
                                             headers={"Authorization": f"Bearer {key}"})  # fmt: skip
                        except httpx.HTTPError:
                            continue
                        if r.status_code == 200:
                            seen[r.headers["x-request-id"]] = True

                await asyncio.gather(*(worker(n) for n in range(16)))

        task = asyncio.ensure_future(load())
        await asyncio.sleep(rng.uniform(0.5, 2.0))
        os.kill(proc.proc.pid, signal.SIGKILL)
        proc.proc.wait()
        stop.set()
        await task
        with sqlite3.connect(state_dir / "d1.sqlite") as conn:
            rows = dict(conn.execute("SELECT request_id, COUNT(*) FROM usage_records GROUP BY request_id").fetchall())
        served_total += len(seen) - before
        lost_total = sum(1 for rid in seen if rows.get(rid, 0) != 1)
    print(
        f"  kill -9 under load, {kills} times: {served_total} responses received in full, "
        f"{lost_total} without exactly one usage row"
    )


def _restart(env: dict[str, str], state: tuple[Path, str]):  # type: ignore[no-untyped-def]
    from bench._procs import start_dev

    state_dir, key = state
    proc, url = start_dev(env, state_dir)
    return proc, url, key, state_dir


def budget_fill(url: str, key: str, state_dir: Path) -> None:
    admin = {"Authorization": f"Bearer {(state_dir / 'admin-token').read_text().strip()}"}
    auth = {"Authorization": f"Bearer {key}"}
    text = "A sentence of roughly eighty characters that costs a little over a tenth of a cent."
    with httpx.Client(base_url=url, timeout=30) as client:
        cost = float(client.post("/voice/synthesize", json={"text": text}, headers=auth).headers["x-cost"])
        workspace = client.get("/admin/workspaces", headers=admin).json()["workspaces"][0]["id"]
        spent0 = client.get("/usage", headers=auth).json()["totals"]["finalCost"]
        budget = round(spent0 + 0.02, 6)
        client.patch(
            f"/admin/workspaces/{workspace}", headers=admin, json={"limits": {"monthlyBudgetUsd": budget}}
        ).raise_for_status()

    async def burst() -> list[int]:
        async with httpx.AsyncClient(base_url=url, timeout=30, limits=httpx.Limits(max_connections=100)) as c:
            rs = await asyncio.gather(*(c.post("/voice/synthesize", json={"text": text}, headers=auth)
                                        for _ in range(100)))  # fmt: skip
            return [r.status_code for r in rs]

    statuses = asyncio.run(burst())
    with httpx.Client(base_url=url, timeout=30) as client:
        sequential = 0
        while client.post("/voice/synthesize", json={"text": text}, headers=auth).status_code == 200:
            sequential += 1
        spent = client.get("/usage", headers=auth).json()["totals"]["finalCost"] - spent0
    print(
        f"  budget $0.02, requests at ${cost}: 100 concurrent → {statuses.count(200)} admitted "
        f"({math.floor(0.02 / cost)} fit), then {sequential} more one at a time; spent ${spent:.6f} "
        f"({spent / 0.02:.1%} of the budget), overshoot ${max(0.0, spent - 0.02):.6f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--before", action="store_true", help="also time the old decode path on the 1 Hz WAV (~30 s)")
    args = parser.parse_args()
    fake, fake_url = start_fake("openai")
    try:
        env = {"OPENAI_API_KEY": "test-openai-key", "OPENAI_BASE_URL": f"{fake_url}/v1"}
        proc, url, key, state = start_gateway(env)
        try:
            print("Nested JSON against voice-gateway dev:")
            nested_json(url, key, args.rounds)
            print("Slow clients (HEADER_TIMEOUT_SECONDS default 10):")
            slow_headers(url)
            print("Budget:")
            budget_fill(url, key, state)
        finally:
            proc.stop()
        print("Hostile audio, built-in engine in this process:")
        asyncio.run(hostile_audio(args.before))
        print("Billing rows across crashes:")
        asyncio.run(crash_rows(fake_url, args.kills, seed=11))
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
