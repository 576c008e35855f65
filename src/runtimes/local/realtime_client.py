"""``voice-gateway realtime FILE.wav``: stream a WAV file to ``/voice/realtime`` in 20 ms frames, as a microphone
would, and print the transcripts and turns that come back — the five-minute demo of the realtime API.

Any 16-bit PCM WAV works (the first channel of a stereo file is sent). With no vendor key the gateway's built-in
recognizer answers; with a Deepgram or Workers AI key, Flux does.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import json
import os
import sys
import time
import wave
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

FRAME_SECONDS = 0.02
STREAM_RATES = (8000, 16000, 24000, 32000, 44100, 48000)  # what /voice/realtime takes; others are resampled to 16 kHz


def add_parser(commands: Any) -> None:
    realtime = commands.add_parser("realtime", help="stream a WAV file to /voice/realtime and print what is heard")
    realtime.add_argument("wav", type=Path, help="16-bit PCM WAV file")
    realtime.add_argument(
        "--url",
        default=os.environ.get("VGW_URL", "http://127.0.0.1:8787"),
        help="the gateway (default: $VGW_URL, else %(default)s)",
    )
    realtime.add_argument("--key", default=None, help="workspace API key (default: $VGW_KEY)")
    realtime.add_argument("--model", default="flux", help="flux or nova-3 (default %(default)s)")
    realtime.add_argument("--provider", default=None, help="pin a vendor (e.g. local, deepgram)")
    realtime.add_argument("--fast", action="store_true", help="send as fast as possible instead of in real time")
    realtime.add_argument("--interim", action="store_true", help="also print interim transcripts")


def read_wav(path: Path) -> tuple[bytes, int]:
    """(mono 16-bit little-endian PCM, sample rate) of a WAV file."""
    with wave.open(str(path), "rb") as reader:
        if reader.getsampwidth() != 2:
            raise SystemExit(f"{path}: only 16-bit PCM WAV is supported")
        channels, rate = reader.getnchannels(), reader.getframerate()
        frames = reader.readframes(reader.getnframes())
    if channels > 1:
        samples = array.array("h", frames[: len(frames) - len(frames) % (2 * channels)])
        frames = samples[::channels].tobytes()  # the first channel (WAV is little-endian, like every host we run on)
    if rate not in STREAM_RATES:  # e.g. espeak-ng's 22,050 Hz
        try:
            import numpy as np
            import soxr
        except ImportError:
            raise SystemExit(
                f"{path}: {rate} Hz needs resampling (install soxr) or a WAV at one of {STREAM_RATES}"
            ) from None
        samples16 = np.frombuffer(frames[: len(frames) - len(frames) % 2], dtype="<i2")
        frames, rate = soxr.resample(samples16, rate, 16000).astype("<i2").tobytes(), 16000
    return frames, rate


def _line(event: dict[str, Any], started: float) -> str | None:
    at = f"{time.monotonic() - started:6.2f}s"
    kind = event.get("type")
    if kind == "transcript":
        label = "final  " if event.get("is_final") else "interim"
        return f"{at} {label} [{event['start']:.2f}-{event['end']:.2f}] {event['text']}"
    if kind == "turn":
        text = f": {event['transcript']}" if event.get("transcript") else ""
        return f"{at} turn    {event['event']} #{event['turn_index']}{text}"
    if kind == "provider_switch":
        return f"{at} switch  {event['from']} -> {event['to']} (replayed {event['replayed_seconds']} s)"
    if kind == "error":
        return f"{at} error   {event['error'].get('type')}: {event['error'].get('message')}"
    if kind == "session_end":
        return f"{at} end     {event['duration']} s of audio, cost ${event['cost']}, segments {event['segments']}"
    return None


async def stream(args: argparse.Namespace) -> int:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    key = args.key or os.environ.get("VGW_KEY")
    if not key:
        raise SystemExit("no API key: pass --key or export VGW_KEY")
    pcm, rate = read_wav(args.wav)
    query = {"model": args.model, "sample_rate": str(rate), "encoding": "linear16"}
    if args.provider:
        query["provider"] = args.provider
    url = args.url.replace("http://", "ws://", 1).replace("https://", "wss://", 1).rstrip("/")
    frame = int(rate * FRAME_SECONDS) * 2
    async with connect(f"{url}/voice/realtime?{urlencode(query)}",
                       additional_headers={"Authorization": f"Bearer {key}"}) as ws:  # fmt: skip
        started = time.monotonic()

        async def send() -> None:
            for index, start in enumerate(range(0, len(pcm), frame)):
                await ws.send(pcm[start : start + frame])
                if not args.fast:  # keep to the audio clock, not the loop's drift
                    await asyncio.sleep(max(0.0, started + (index + 1) * FRAME_SECONDS - time.monotonic()))
            await ws.send(json.dumps({"type": "CloseStream"}))

        sender = asyncio.ensure_future(send())
        try:
            async for message in ws:
                event = json.loads(message)
                if event.get("type") == "transcript" and not event.get("is_final") and not args.interim:
                    continue
                line = _line(event, started)
                if line:
                    print(line, flush=True)
        except ConnectionClosed:
            pass
        finally:
            sender.cancel()
        code = ws.close_code
    if code != 1000:
        print(f"closed with {code} {ws.close_reason or ''}".rstrip(), file=sys.stderr)
        return 1
    return 0


def main(args: argparse.Namespace) -> int:
    return asyncio.run(stream(args))
