"""The built-in engine's figures: encode time per format and rate, and the realtime recognizer's first-transcript
latency, real-time factor and CPU per concurrent session.

    uv run python bench/local_engine/run.py [--sessions 1 2 4]

Encoding is timed in-process (the function the provider calls: resample + libsndfile encode). Realtime runs the real
local server (``voice-gateway dev`` on a free port, fresh state, no vendor key) and streams espeak-ng speech to
``/voice/realtime`` in 20 ms frames at real-time pace; CPU is read from each recognizer worker's /proc stat.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

import httpx
from websockets.asyncio.client import connect

from bench._procs import Process, free_port

RATE = 16000
FRAME = RATE * 2 // 50  # 20 ms
SENTENCES = ("the quick brown fox jumps over the lazy dog", "please call me tomorrow morning at the office",
             "hello world this is a test of the gateway")  # fmt: skip
TICKS = os.sysconf("SC_CLK_TCK")


async def speech(rate: int | None) -> tuple[bytes, int]:
    from providers.base import Call, SynthesisRequest
    from providers.local import LocalProvider

    provider = LocalProvider()
    async with httpx.AsyncClient() as http:
        call = Call(http=http, credentials=provider.credentials_from_env({}), timeout=60)  # type: ignore[arg-type]
        pcm = b""
        for text in SENTENCES:
            result = await provider.synthesize(call, SynthesisRequest(text=text, format="pcm", sample_rate=rate))
            pcm += result.audio + bytes((rate or 22050) * 2)  # a second of silence after each
        return pcm, rate or 22050


def bench_encode(pcm: bytes, native: int, repeats: int) -> None:
    from providers.local.audio_io import resample_pcm
    from providers.local.encode import output_rate
    from providers.local.provider import package

    seconds = len(pcm) / 2 / native
    print(f"\n## Encode ({seconds:.1f} s of espeak-ng speech, median of {repeats})\n")
    print("| format | asked rate | encoded at | ms (resample + encode) | bytes | x real time |")
    print("|---|---|---|---|---|---|")
    for fmt in ("mp3", "opus", "flac", "wav", "pcm"):
        for asked in (None, 8000, 16000, 24000, 44100, 48000):
            rate = output_rate(fmt, native, asked) if fmt != "pcm" and fmt != "wav" else (asked or native)
            times, size = [], 0
            for _ in range(repeats):
                started = time.perf_counter()
                audio = package(resample_pcm(pcm, native, rate), rate, fmt)
                times.append(time.perf_counter() - started)
                size = len(audio)
            ms = statistics.median(times) * 1000
            print(f"| {fmt} | {asked or 'default'} | {rate} | {ms:.1f} | {size} | {seconds / (ms / 1000):.0f} |")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def workers() -> dict[int, float]:
    """pid → CPU seconds of every running realtime worker."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"providers.local.live_worker" in (entry / "cmdline").read_bytes():
                    found[int(entry.name)] = cpu_seconds(int(entry.name))
            except OSError:
                continue
    return found


async def session(url: str, key: str, pcm: bytes, paced: bool) -> dict[str, float]:
    """Stream once; the latencies seen by the client (seconds)."""
    figures: dict[str, float] = {}
    async with connect(f"{url}/voice/realtime?sample_rate={RATE}",
                       additional_headers={"Authorization": f"Bearer {key}"}) as ws:  # fmt: skip
        started = time.monotonic()
        sent_until = [0.0]

        async def send() -> None:
            for index, start in enumerate(range(0, len(pcm), FRAME)):
                await ws.send(pcm[start : start + FRAME])
                sent_until[0] = (start + FRAME) / 2 / RATE
                if paced:
                    await asyncio.sleep(max(0.0, started + (index + 1) * 0.02 - time.monotonic()))
            await ws.send(json.dumps({"type": "CloseStream"}))

        sender = asyncio.ensure_future(send())
        async for message in _messages(ws):
            event = json.loads(message)
            now = time.monotonic() - started
            if event["type"] == "transcript" and event["text"] and "first_interim" not in figures:
                figures["first_interim"] = now - event["start"]  # from the moment its speech began
            if event["type"] == "transcript" and event["is_final"] and event["text"] and "first_final" not in figures:
                figures["first_final"] = now - event["end"]  # from the moment its speech ended
            if event["type"] == "session_end":
                figures["wall"] = now
        sender.cancel()
        figures["close"] = ws.close_code or 0
    return figures


async def _messages(ws):  # type: ignore[no-untyped-def]
    from websockets.exceptions import ConnectionClosed

    try:
        async for message in ws:
            yield message
    except ConnectionClosed:
        return


async def bench_realtime(sessions: list[int]) -> None:
    pcm, _ = await speech(RATE)
    audio_seconds = len(pcm) / 2 / RATE
    with tempfile.TemporaryDirectory() as state:
        port = free_port()
        server = Process([sys.executable, "-m", "runtimes.local.cli", "dev", "--port", str(port), "--state-dir",
                          state, "--log-level", "warning"],
                         env={"LOCAL_REALTIME_SESSIONS": str(max(sessions))}, cwd=state)  # fmt: skip
        try:
            server.wait_http(f"http://127.0.0.1:{port}/health", 60)
            key = next(line.split("export VGW_KEY=", 1)[1].strip() for line in server.lines if "VGW_KEY=" in line)
            url = f"ws://127.0.0.1:{port}"
            await session(url, key, pcm[: RATE * 2], paced=False)  # warm-up: first imports, page cache

            print(f"\n## Realtime recognizer ({audio_seconds:.1f} s of espeak-ng speech: 3 sentences, 3 turns)\n")
            # Real-time factor: unpaced, one session, the worker's CPU over the audio it decoded.
            cpu_before = sum(workers().values())
            cpu_seen: dict[int, float] = {}

            async def sample() -> None:
                while True:
                    cpu_seen.update(workers())
                    await asyncio.sleep(0.05)

            sampler = asyncio.ensure_future(sample())
            fast = await session(url, key, pcm, paced=False)
            sampler.cancel()
            cpu = sum(cpu_seen.values()) - cpu_before
            print(
                f"- unpaced, one session: wall {fast['wall']:.2f} s for {audio_seconds:.1f} s of audio "
                f"(RTF wall {fast['wall'] / audio_seconds:.3f}); worker CPU {cpu:.2f} s "
                f"(**RTF CPU {cpu / audio_seconds:.3f}**, model loading included)"
            )
            print(
                "\n| concurrent sessions (paced, 20 ms frames) | first interim after speech start p50 | "
                "first final after speech end p50 | CPU per session (% of one core) |"
            )
            print("|---|---|---|---|")
            for n in sessions:
                cpu_seen.clear()
                baseline = workers()  # the idle spare, already loaded
                sampler = asyncio.ensure_future(sample())
                started = time.monotonic()
                results = await asyncio.gather(*(session(url, key, pcm, paced=True) for _ in range(n)))
                wall = time.monotonic() - started
                sampler.cancel()
                # All workers' CPU over the run (the spare's start-up included), shared out over the sessions.
                before = {pid: cpu for pid, cpu in baseline.items() if pid in cpu_seen}
                per_session = (sum(cpu_seen.values()) - sum(before.values())) / wall * 100 / n
                ok = [r for r in results if r.get("close") == 1000 and "first_final" in r]
                interim = statistics.median(r["first_interim"] for r in ok) if ok else float("nan")
                final = statistics.median(r["first_final"] for r in ok) if ok else float("nan")
                failed = f" ({n - len(ok)} of {n} sessions failed)" if len(ok) < n else ""
                print(f"| {n} | {interim * 1000:.0f} ms | {final * 1000:.0f} ms | {per_session:.1f} %{failed} |")
        finally:
            server.stop()


async def main(sessions: list[int], repeats: int) -> None:
    pcm, native = await speech(None)
    bench_encode(pcm, native, repeats)
    await bench_realtime(sessions)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.sessions, args.repeats))
