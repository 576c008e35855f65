"""Streaming text-to-speech over WebSockets (``/voice/speak-stream``) with failover between flushes.

Client: ``{"type":"Speak","text"}``, ``{"type":"Flush"}``, ``{"type":"Clear"}``, ``{"type":"Close"}``; server:
binary audio frames and JSON ``Flushed``/``Cleared``/``provider_switch``/``error``/``session_end``. Upstream: each
leg's vendor WebSocket in that vendor's own wire format, through the route's ``SpeakProtocol`` (``providers.realtime.
speak``): the messages that speak a flush, clear and close, and the vendor's messages read as audio / flushed /
cleared / warning. Legs are handed out by the attempt planner (``routing.legs``), breakers and cool-downs honoured.

The unit of delivery is a *flush*: the text spoken since the previous Flush is sent upstream as Speak + Flush when
the client flushes, its audio is relayed as it arrives, and the vendor's "flushed" marks it delivered. If the vendor
dies or stalls with flushes in flight, the next vendor gets those flushes again (the same trade-off as
``/voice/stream``'s live mode: a flush cut midway is heard again in full; completed flushes never are). Billing is
per vendor segment, by the characters of the flushes it completed (or that the client cleared after sending).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from gateway import json_bounds as bounded_json
from gateway.errors import ErrorClass, ProviderError
from gateway.ports import Clock, UpstreamClosed, UpstreamWebSocket
from gateway.routing.legs import LegPlan
from gateway.speech_cache.segments import SegmentCache
from gateway.streaming.config import StreamingConfig
from gateway.streaming.listen_relay import ClientSocket, Leg
from gateway.streaming.upstream import closed_error, next_message, pump, stop
from providers.realtime.routes import SpeakRoute
from providers.realtime.speak import AUDIO, CLEARED, FLUSHED, WARNING

SpeakLeg = Leg[SpeakRoute]
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
        legs: LegPlan[SpeakLeg],
        config: StreamingConfig,
        *,
        open_leg: Callable[[SpeakLeg], Awaitable[UpstreamWebSocket]],
        segment_done: Callable[[int, SpeakLeg, int], None],
        clock: Clock,
        cache: SegmentCache | None = None,
    ) -> None:
        self.client = client
        self.legs = legs
        self.config = config
        self.open_leg = open_leg
        self.segment_done = segment_done
        self.clock = clock
        self.cache = cache
        self.result = SpeakResult()
        self._queue: asyncio.Queue[tuple[str, int, Any]] = asyncio.Queue()
        self._leg: SpeakLeg | None = None
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
        assert self._leg is not None
        return self._leg

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
            await self._fail(
                ProviderError(
                    self.leg.provider_id, ErrorClass.TIMEOUT, f"no audio for {self.config.speak_stall:g}s after a Flush"
                )
            )

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
                await self._send(self.leg.route.protocol.clear())
            else:
                await self.client.send_json({"type": "Cleared", "sequence_id": self._next_sequence})
        elif kind == "Close":
            self._closing = True
            if not self._in_flight:
                self._done = True
        else:
            await self.client.send_json(
                {
                    "type": "error",
                    "error": {
                        "type": "invalid_request",
                        "message": "send Speak, Flush, Clear or Close messages as JSON text frames",
                    },
                }
            )

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
        for message in self.leg.route.protocol.speak(unit.text):
            await self._send(message)
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
        event = self.leg.route.protocol.translate(data)
        kind = event.kind if event is not None else None
        if kind == AUDIO:
            assert event is not None
            if not self._clearing and self._in_flight:
                self._waiting_since = self.clock.monotonic()
                self._in_flight[0].audio.append(event.audio)
                await self.client.send_bytes(event.audio)
        elif kind == FLUSHED and self._in_flight and not self._clearing:
            unit = self._in_flight.popleft()
            self._segment_chars += len(unit.text)
            await self.client.send_json(
                {"type": "Flushed", "sequence_id": unit.sequence, "provider": self.leg.provider_id}
            )
            if self.cache is not None:
                await self.cache.keep(unit.text, b"".join(unit.audio), self.leg)
            self._waiting_since = self.clock.monotonic() if self._in_flight else None
            if self._closing and not self._in_flight:
                self._done = True
        elif kind == CLEARED and self._clearing:
            self._clearing -= 1
            await self.client.send_json({"type": "Cleared", "sequence_id": self._next_sequence})
        elif kind == WARNING:
            assert event is not None
            fields = event.fields or {}
            await self.client.send_json(
                {
                    "type": "warning",
                    "description": fields.get("description"),
                    "code": fields.get("code"),
                    "provider": self.leg.provider_id,
                }
            )

    # -- failover ----------------------------------------------------------------------------------------------
    async def _fail(self, error: ProviderError) -> None:
        failed = self.leg
        await self._drop_upstream()
        self.legs.failed(failed, error)
        if not await self._connect_next(failed):
            self._done = True

    async def _connect_next(self, previous: SpeakLeg | None) -> bool:
        while (leg := await self.legs.next()) is not None:
            started = self.clock.monotonic()
            try:
                upstream = await self.open_leg(leg)
            except ProviderError as exc:
                self.legs.failed(leg, exc)
                continue
            except asyncio.CancelledError:
                self.legs.abandoned(leg)
                raise
            self.legs.opened(leg, (self.clock.monotonic() - started) * 1000)
            self._leg = leg
            self._segment += 1
            self._segment_chars = 0
            self._upstream = upstream
            self._clearing = 0
            self._waiting_since = None
            self._reader = asyncio.ensure_future(pump(upstream, self._segment, self._queue))
            if previous is not None:
                await self.client.send_json(
                    {
                        "type": "provider_switch",
                        "from": previous.provider_id,
                        "to": leg.provider_id,
                        "replayed_flushes": len(self._in_flight),
                    }
                )
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
        await stop(reader, upstream, goodbye=self.leg.route.protocol.close() if upstream is not None else None)
        if upstream is not None and self._segment >= 0:
            self.segment_done(self._segment, self.leg, self._segment_chars)
            self.result.characters += self._segment_chars
            self.result.segments.append((self.leg.provider_id, self._segment_chars))
