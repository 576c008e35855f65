"""Streaming text-to-speech over WebSockets (``/voice/speak-stream``) with failover between flushes.

Client: ``{"type":"Speak","text"}``, ``{"type":"Flush"}``, ``{"type":"Clear"}``, ``{"type":"Close"}``; server:
binary audio frames and JSON ``Flushed``/``Cleared``/``provider_switch``/``error``/``session_end``. Upstream: Aura's
``/v1/speak`` WebSocket (Deepgram direct, or Workers AI through AI Gateway), which speaks the same four messages.

The unit of delivery is a *flush*: the text spoken since the previous Flush is sent upstream as Speak + Flush when
the client flushes, its audio is relayed as it arrives, and the vendor's ``Flushed`` marks it delivered. If the vendor
dies or stalls with flushes in flight, the next vendor gets those flushes again (the same trade-off as
``/voice/stream``'s live mode: a flush cut midway is heard again in full; completed flushes never are). Billing is
per vendor segment, by the characters of the flushes it completed (or that the client cleared after sending).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway import json_bounds as bounded_json
from gateway.errors import ErrorClass, ProviderError
from gateway.ports import Clock, UpstreamClosed, UpstreamWebSocket
from gateway.speech_cache.segments import SegmentCache
from gateway.streaming.config import StreamingConfig
from gateway.streaming.listen_relay import ClientSocket, Leg, following
from gateway.streaming.upstream import closed_error, next_message, pump, stop
from providers.realtime.routes import SpeakRoute

SpeakLeg = Leg[SpeakRoute]
CLOSE = json.dumps({"type": "Close"})
TICK_SECONDS = 0.1  # how often a quiet session checks for a stalled Flush
CACHE_FRAME_BYTES = 16 * 1024  # a cached segment goes out in frames of about the size vendors send


@dataclass
class Unit:
    sequence: int
    text: str
    audio: list[bytes] = field(default_factory=list)  # from the vendor speaking it now (kept by the cache)


@dataclass
class SpeakResult:
    characters: int = 0
    segments: list[tuple[str, int]] = field(default_factory=list)  # (provider, characters)
    failed: bool = False


class SpeakRelay:
    def __init__(
        self,
        client: ClientSocket,
        legs: Sequence[SpeakLeg],
        config: StreamingConfig,
        *,
        open_leg: Callable[[SpeakLeg], Awaitable[UpstreamWebSocket]],
        segment_done: Callable[[int, SpeakLeg, int], None],
        leg_failed: Callable[[SpeakLeg, ProviderError, SpeakLeg | None], None],
        leg_ok: Callable[[SpeakLeg, float], None],
        clock: Clock,
        cache: SegmentCache | None = None,
    ) -> None:
        self.client = client
        self.legs = list(legs)
        self.config = config
        self.open_leg = open_leg
        self.segment_done = segment_done
        self.leg_failed = leg_failed
        self.leg_ok = leg_ok
        self.clock = clock
        self.cache = cache
        self.result = SpeakResult()
        self._queue: asyncio.Queue[tuple[str, int, Any]] = asyncio.Queue()
        self._leg_index = -1
        self._segment = -1
        self._segment_chars = 0
        self._upstream: UpstreamWebSocket | None = None
        self._reader: asyncio.Task[None] | None = None
        self._text: list[str] = []  # spoken since the last Flush
        self._in_flight: deque[Unit] = deque()
        self._next_sequence = 0
        self._clearing = 0  # Clears sent upstream whose Cleared has not come back: drop audio until then
        self._waiting_since: float | None = None
        self._closing = False
        self._done = False

    @property
    def leg(self) -> SpeakLeg:
        return self.legs[self._leg_index]

    async def run(self) -> SpeakResult:
        client_task = asyncio.ensure_future(self._read_client())
        try:
            if await self._connect_next(None):
                while not self._done:
                    kind, segment, data = await next_message(self._queue, TICK_SECONDS)
                    await self._handle(kind, segment, data)
                    await self._check_stall()
        finally:
            client_task.cancel()
            with contextlib.suppress(BaseException):
                await client_task
            await self._drop_upstream()
        return self.result

    async def _read_client(self) -> None:
        while True:
            message = await self.client.receive()
            await self._queue.put(("client", -1, message))
            if message is None:
                return

    async def _handle(self, kind: str, segment: int, data: Any) -> None:
        if kind == "client":
            await self._client(data)
        elif kind == "upstream" and segment == self._segment:
            await self._upstream_message(data)
        elif kind == "upstream_closed" and segment == self._segment:
            if self._closing and not self._in_flight:
                self._done = True
            else:
                await self._fail(closed_error(self.leg.provider_id, data))

    async def _check_stall(self) -> None:
        if self._waiting_since is not None and self.clock.monotonic() - self._waiting_since > self.config.speak_stall:
            await self._fail(ProviderError(self.leg.provider_id, ErrorClass.TIMEOUT,
                                           f"no audio for {self.config.speak_stall:g}s after a Flush"))

    # -- client ------------------------------------------------------------------------------------------------
    async def _client(self, message: str | bytes | None) -> None:
        if message is None:
            self._done = True
            return
        try:
            body = bounded_json.loads(message) if isinstance(message, str) else None  # too deep: a bad frame
        except ValueError:
            body = None
        kind = body.get("type") if isinstance(body, dict) else None
        if kind == "Speak" and isinstance(body.get("text"), str):  # type: ignore[union-attr]
            self._text.append(body["text"])  # type: ignore[index]
        elif kind == "Flush":
            text = "".join(self._text)
            self._text = []
            if text.strip():
                unit = Unit(self._next_sequence, text)
                self._next_sequence += 1
                if await self._from_cache(unit):
                    return
                self._in_flight.append(unit)
                await self._send_unit(unit)
        elif kind == "Clear":
            self._text = []
            if self._in_flight:
                for unit in self._in_flight:  # sent to the vendor: it bills them whether or not audio was heard
                    self._segment_chars += len(unit.text)
                self._in_flight.clear()
                self._waiting_since = None
                self._clearing += 1
                await self._send(json.dumps({"type": "Clear"}))
            else:
                await self.client.send_json({"type": "Cleared", "sequence_id": self._next_sequence})
        elif kind == "Close":
            self._closing = True
            if not self._in_flight:
                self._done = True
        else:
            await self.client.send_json({"type": "error", "error": {"type": "invalid_request", "message":
                                         "send Speak, Flush, Clear or Close messages as JSON text frames"}})

    async def _from_cache(self, unit: Unit) -> bool:
        """Only a flush with nothing in flight before it is answered from the cache (its audio must not overtake
        audio still to come from the vendor)."""
        if self.cache is None or self._in_flight or self._clearing:
            return False
        entry = await self.cache.lookup(unit.text)
        if entry is None:
            return False
        for start in range(0, len(entry.audio), CACHE_FRAME_BYTES):
            await self.client.send_bytes(entry.audio[start : start + CACHE_FRAME_BYTES])
        await self.client.send_json({"type": "Flushed", "sequence_id": unit.sequence, "provider": entry.provider,
                                     "cached": True})  # fmt: skip
        return True

    async def _send_unit(self, unit: Unit) -> None:
        await self._send(json.dumps({"type": "Speak", "text": unit.text}))
        await self._send(json.dumps({"type": "Flush"}))
        if self._waiting_since is None:
            self._waiting_since = self.clock.monotonic()

    async def _send(self, text: str) -> None:
        upstream = self._upstream
        if upstream is None:
            return
        try:
            await upstream.send_text(text)
        except UpstreamClosed as closed:
            await self._fail(closed_error(self.leg.provider_id, closed))

    # -- vendor ------------------------------------------------------------------------------------------------
    async def _upstream_message(self, data: str | bytes) -> None:
        if isinstance(data, bytes):
            if not self._clearing and self._in_flight:
                self._waiting_since = self.clock.monotonic()
                self._in_flight[0].audio.append(data)
                await self.client.send_bytes(data)
            return
        try:
            message = json.loads(data)
        except ValueError:
            return
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "Flushed" and self._in_flight and not self._clearing:
            unit = self._in_flight.popleft()
            self._segment_chars += len(unit.text)
            await self.client.send_json({"type": "Flushed", "sequence_id": unit.sequence, "provider": self.leg.provider_id})
            if self.cache is not None:
                await self.cache.keep(unit.text, b"".join(unit.audio), self.leg)
            self._waiting_since = self.clock.monotonic() if self._in_flight else None
            if self._closing and not self._in_flight:
                self._done = True
        elif kind == "Cleared" and self._clearing:
            self._clearing -= 1
            await self.client.send_json({"type": "Cleared", "sequence_id": self._next_sequence})
        elif kind == "Warning":
            await self.client.send_json({"type": "warning", "description": message.get("description"),
                                         "code": message.get("code"), "provider": self.leg.provider_id})

    # -- failover ----------------------------------------------------------------------------------------------
    async def _fail(self, error: ProviderError) -> None:
        failed = self.leg
        await self._drop_upstream()
        self.leg_failed(failed, error, following(self.legs, self._leg_index))
        if not await self._connect_next(failed):
            self._done = True

    async def _connect_next(self, previous: SpeakLeg | None) -> bool:
        while self._leg_index + 1 < len(self.legs):
            self._leg_index += 1
            leg = self.legs[self._leg_index]
            started = self.clock.monotonic()
            try:
                upstream = await self.open_leg(leg)
            except ProviderError as exc:
                self.leg_failed(leg, exc, following(self.legs, self._leg_index))
                continue
            self.leg_ok(leg, (self.clock.monotonic() - started) * 1000)
            self._segment += 1
            self._segment_chars = 0
            self._upstream = upstream
            self._clearing = 0
            self._waiting_since = None
            self._reader = asyncio.ensure_future(pump(upstream, self._segment, self._queue))
            if previous is not None:
                await self.client.send_json({"type": "provider_switch", "from": previous.provider_id,
                                             "to": leg.provider_id, "replayed_flushes": len(self._in_flight)})
            for unit in list(self._in_flight):
                if self._upstream is not upstream:
                    return True
                unit.audio.clear()  # the next vendor speaks it again in full: only that is worth keeping
                await self._send_unit(unit)
            return True
        self.result.failed = True
        return False

    async def _drop_upstream(self) -> None:
        upstream, reader = self._upstream, self._reader
        self._upstream, self._reader = None, None
        await stop(reader, upstream, goodbye=CLOSE)
        if upstream is not None and self._segment >= 0:
            self.segment_done(self._segment, self.leg, self._segment_chars)
            self.result.characters += self._segment_chars
            self.result.segments.append((self.leg.provider_id, self._segment_chars))
