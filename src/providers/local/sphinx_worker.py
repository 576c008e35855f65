"""The recognizer's worker process: ``python -m providers.local.sphinx_worker`` (started by ``recognizer``).

Reads jobs from stdin — a 4-byte big-endian length, then that many bytes of 16 kHz mono 16-bit PCM — and answers
each with one JSON line on stdout: ``{"words": [[word, start, end, probability], ...]}`` or ``{"error": message}``.
Exits when stdin closes (the server went away).
"""

from __future__ import annotations

import json
import struct
import sys
from typing import IO, Any

from providers.local.errors import EngineError
from providers.local.stt import LOAD_ONLY, RecognizedWord, SphinxEngine


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    engine = SphinxEngine()
    while header := stdin.read(4):
        if len(header) < 4:
            return
        (length,) = struct.unpack(">I", header)
        reply: dict[str, Any]
        try:
            if length == LOAD_ONLY:
                engine.load()
                reply = {"words": []}
            else:
                pcm = stdin.read(length)
                reply = {"words": [_word_tuple(w) for w in engine.recognize(pcm)]}
        except EngineError as exc:
            reply = {"error": str(exc)}
        stdout.write(json.dumps(reply).encode() + b"\n")
        stdout.flush()


def _word_tuple(word: RecognizedWord) -> list[Any]:
    return [word.word, word.start, word.end, word.probability]


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
