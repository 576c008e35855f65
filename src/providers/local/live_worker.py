"""The realtime recognizer's worker process: ``python -m providers.local.live_worker``, one per session.

A process rather than a thread because the pocketsphinx binding holds the GIL while it decodes (see ``recognizer``):
a session's decoding must not stall the server's event loop or the other sessions. Protocol over the pipes:
the worker loads its models and says ``ready`` (so a spare can wait, loaded, for its session); stdin then carries the
session's sample rate (4 bytes, big-endian), then frames — a 4-byte big-endian length, then that many bytes of mono 16-bit little-endian PCM at the
session's rate; a zero length means the client closed the stream — and stdout carries one JSON event per line
(``live`` makes them): ``ready`` once the models are loaded, then ``start`` / ``partial`` / ``final`` / ``progress``,
and ``closed`` after the end of the stream (or ``error``). Exits when stdin closes.
"""

from __future__ import annotations

import json
import struct
import sys
from typing import IO, Any

from providers.local.stt import SAMPLE_RATE

MAX_FRAME_BYTES = 1 << 24  # a length above this is a broken pipe protocol, not audio


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    def emit(events: list[dict[str, Any]]) -> None:
        if events:
            stdout.write(b"".join(json.dumps(e).encode() + b"\n" for e in events))
            stdout.flush()

    try:
        import numpy as np
        import soxr

        from providers.local.live import LiveRecognizer

        recognizer = LiveRecognizer()
    except Exception as exc:  # noqa: BLE001 - whatever stops the engine loading is reported, not a traceback
        emit([{"type": "error", "message": f"the built-in recognizer could not load: {exc}"}])
        return
    emit([{"type": "ready"}])
    header = stdin.read(4)
    if len(header) < 4:
        return  # a spare nobody needed: the server went away
    (rate,) = struct.unpack(">I", header)
    resampler = None if rate == SAMPLE_RATE else soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="int16")

    def to_16k(pcm: bytes, last: bool = False) -> bytes:
        if resampler is None:
            return pcm
        samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2")
        return resampler.resample_chunk(samples, last=last).astype("<i2").tobytes()

    while header := stdin.read(4):
        if len(header) < 4:
            return
        (length,) = struct.unpack(">I", header)
        if length > MAX_FRAME_BYTES:
            emit([{"type": "error", "message": "frame too large"}])
            return
        if length == 0:
            emit(recognizer.feed(to_16k(b"", last=True)) + recognizer.finish() + [{"type": "closed"}])
            return
        emit(recognizer.feed(to_16k(stdin.read(length))))


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
