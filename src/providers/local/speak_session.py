"""Streaming speech on ``/voice/speak-stream`` from espeak-ng: an in-process socket that speaks Aura's protocol
(``Speak`` / ``Flush`` / ``Clear`` / ``Close`` in; linear16 audio and ``Flushed`` / ``Cleared`` out), so the speak
relay drives the built-in engine exactly as it drives a vendor — failover, replay of flushes and billing unchanged.

Each Flush is synthesized in a worker thread (espeak-ng is C behind ctypes, which releases the GIL) and its audio
sent in 100 ms frames followed by ``Flushed``. A Clear drops the flushes not yet spoken, stops the one being spoken
(espeak-ng checks the cancel event between its audio chunks) and discards any of its audio still to come.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from gateway.errors import ErrorClass, ProviderError
from gateway.ports import UpstreamClosed, UpstreamWebSocket, WebSocketOpener
from providers.base import Call
from providers.local.errors import Cancelled, EngineError
from providers.realtime.routes import SpeakOptions, SpeakRoute
from providers.realtime.speak import AuraProtocol

FRAME_SECONDS = 0.1
# (text, voice, sample rate, cancel event) → 16-bit mono PCM at that rate; blocking (runs in a thread)
Speaker = Callable[[str, "str | None", int, threading.Event], bytes]


class SpeakSocket:
    def __init__(self, speak: Speaker, voice: str | None, sample_rate: int) -> None:
        self._speak = speak
        self._voice = voice
        self._rate = sample_rate
        self._out: asyncio.Queue[str | bytes | UpstreamClosed] = asyncio.Queue()
        self._text: list[str] = []
        self._flushes: deque[str] = deque()
        self._generation = 0  # bumped by every Clear: audio of an older generation is never sent
        self._cancel: threading.Event | None = None
        self._worker: asyncio.Task[None] | None = None
        self._closing = False

    async def send_text(self, data: str) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            message = None
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "Speak" and isinstance(message.get("text"), str):  # type: ignore[union-attr]
            self._text.append(message["text"])  # type: ignore[index]
        elif kind == "Flush":
            self._flushes.append("".join(self._text))
            self._text = []
            self._start()
        elif kind == "Clear":
            self._text, self._generation = [], self._generation + 1
            self._flushes.clear()
            if self._cancel is not None:
                self._cancel.set()
            await self._out.put(json.dumps({"type": "Cleared"}))
        elif kind == "Close":
            self._closing = True
            self._start()
        else:
            await self._out.put(json.dumps({"type": "Warning", "code": "UNKNOWN_MESSAGE",
                                            "description": f"unknown message {kind!r}"}))  # fmt: skip

    async def send_bytes(self, data: bytes) -> None:
        await self._out.put(json.dumps({"type": "Warning", "code": "BINARY", "description": "send text messages"}))

    async def receive(self) -> str | bytes:
        item = await self._out.get()
        if isinstance(item, UpstreamClosed):
            raise item
        return item

    async def close(self, code: int = 1000) -> None:
        self._flushes.clear()
        if self._cancel is not None:
            self._cancel.set()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(BaseException):
                await self._worker

    def _start(self) -> None:
        if self._worker is None or self._worker.done():
            self._worker = asyncio.ensure_future(self._work())

    async def _work(self) -> None:
        while self._flushes:
            text, generation = self._flushes.popleft(), self._generation
            cancel = self._cancel = threading.Event()
            try:
                pcm = (
                    await asyncio.to_thread(self._speak, text, self._voice, self._rate, cancel) if text.strip() else b""
                )
            except Cancelled:
                continue
            except (EngineError, ProviderError) as exc:
                await self._out.put(UpstreamClosed(1011, str(exc)[:120]))
                return
            finally:
                cancel.set()
                self._cancel = None
            if generation != self._generation:
                continue  # cleared while it was being spoken
            frame = int(self._rate * FRAME_SECONDS) * 2
            for start in range(0, len(pcm), frame):
                await self._out.put(pcm[start : start + frame])
            await self._out.put(json.dumps({"type": "Flushed"}))
        if self._closing:
            await self._out.put(UpstreamClosed(1000, ""))


LOCAL_SPEAK = AuraProtocol("local")  # SpeakSocket answers the four messages /voice/speak-stream clients send


@dataclass(frozen=True)
class LocalSpeakRoute(SpeakRoute):
    speaker: Speaker | None = None

    async def open(self, call: Call, options: SpeakOptions, opener: WebSocketOpener | None) -> UpstreamWebSocket:
        if self.speaker is None:
            raise ProviderError("local", ErrorClass.UNSUPPORTED, "no speech engine")
        return SpeakSocket(self.speaker, options.voice, options.sample_rate)


def _no_url(call: Call, options: SpeakOptions) -> tuple[str, dict[str, str], str]:
    return "", {}, "espeak-ng"  # in-process: only the model name (for billing rows) is used


def speak_route(speaker: Speaker) -> LocalSpeakRoute:
    return LocalSpeakRoute("local", LOCAL_SPEAK, Decimal(0), _no_url, speaker=speaker)
