"""The realtime speech-to-text relay: one client WebSocket, one vendor WebSocket at a time, failover with replay.

Client audio is appended to the session timeline (``timeline.py``) and sent upstream; vendor messages are translated
into the vendor-neutral schema (``providers.realtime``) and shifted onto the session clock. The vendor fails when its
socket closes unexpectedly (1006/1011/anything before we asked it to close), when it reports an ``Error``, or when it
stalls (audio sent, no message back for ``stall`` seconds). Then the next leg (vendor × model) the attempt planner
admits *now* (``routing.legs``: breakers and 429 cool-downs as they are at the switch) is opened, the audio
since the last *final* transcript (at most ``replay_seconds``, from a little before it) is replayed, and events the
client already has are dropped by audio time: a final word ending before the last final's end is a duplicate.
Turn events are renumbered on the session's own turn counter so ``turn_index`` stays monotonic across vendors; a
vendor whose protocol reports no turns, continuing a session that started on one that does, gets StartOfTurn/
EndOfTurn derived from its ``speech_final`` results so the client's turn state machine keeps working.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from gateway import json_bounds as bounded_json
from gateway.errors import ErrorClass, ProviderError
from gateway.ports import Clock, UpstreamClosed, UpstreamWebSocket
from gateway.routing.legs import LegPlan
from gateway.streaming.config import StreamingConfig
from gateway.streaming.timeline import AudioTimeline
from gateway.streaming.upstream import closed_error, next_message, pump, stop
from providers.realtime.events import Event, Transcript, Turn
from providers.realtime.routes import ListenOptions, ListenRoute

log = logging.getLogger("gateway.realtime")

DUPLICATE_TOLERANCE = 0.02  # seconds: a re-recognised word may end a hair later than the first time


class ClientSocket(Protocol):
    """The client side, as the relay needs it (the API layer adapts Starlette's WebSocket)."""

    async def receive(self) -> str | bytes | None:
        """The next message; None once the client has gone."""
        ...

    async def send_json(self, data: dict[str, Any]) -> None: ...

    async def send_bytes(self, data: bytes) -> None: ...


class _Route(Protocol):
    @property
    def provider_id(self) -> str: ...


RouteT = TypeVar("RouteT", bound=_Route)


@dataclass(frozen=True)
class Leg(Generic[RouteT]):
    """One thing to try: a vendor (with this workspace's credentials) and one of its realtime routes."""

    candidate: Any  # gateway.routing.directory.Candidate
    route: RouteT

    @property
    def provider_id(self) -> str:
        return self.route.provider_id


@dataclass
class Segment:
    """The part of the session one leg served: billed by the audio it was sent (replay included)."""

    index: int
    leg: Leg[ListenRoute]
    origin: int  # timeline position that is the vendor's time zero
    sent_bytes: int = 0
    seconds: float = 0.0
    billed: bool = False


@dataclass
class SessionHooks:
    open_leg: Callable[[Leg[ListenRoute]], Awaitable[UpstreamWebSocket]]
    segment_done: Callable[[Segment], None]


@dataclass
class SessionResult:
    duration: float  # seconds of client audio
    segments: list[Segment] = field(default_factory=list)
    failed: bool = False  # every leg failed before the client finished


class ListenRelay:
    def __init__(
        self,
        client: ClientSocket,
        legs: LegPlan[Leg[ListenRoute]],
        options: ListenOptions,
        config: StreamingConfig,
        clock: Clock,
        hooks: SessionHooks,
    ) -> None:
        self.client = client
        self.legs = legs
        self.options = options
        self.config = config
        self.clock = clock
        self.hooks = hooks
        self.timeline = AudioTimeline(options.bytes_per_second, options.frame_bytes, config.replay_seconds)
        self.client_bytes = 0
        self.segments: list[Segment] = []
        self._upstream: UpstreamWebSocket | None = None
        self._reader: asyncio.Task[None] | None = None
        self._queue: asyncio.Queue[tuple[str, int, Any]] = asyncio.Queue()
        # bookkeeping for duplicates and turns, all on the session clock
        self._committed = 0.0  # end of the last final transcript sent
        self._turns_done = 0
        self._turn_open = False
        self._turn_based = False
        self._turn_words: list[str] = []
        self._switched = False
        # liveness
        # Vendors answer per fraction of a second of audio, not per frame: once half a second of audio went unanswered
        # (or CloseStream was sent), an answer is owed; owed for longer than ``realtime_stall`` is a stall.
        self._awaiting_since: float | None = None  # when an answer became owed
        self._unanswered = 0  # bytes of audio sent since the vendor last said anything
        self._owed_after = options.bytes_per_second // 2  # per-frame check: computed once, not per frame
        self._tick = max(0.05, min(config.keepalive_seconds, config.realtime_stall, config.close_timeout) / 4)
        self._last_upstream_send = clock.monotonic()
        self._closing_since: float | None = None
        self._done = False
        self._failed = False

    @property
    def segment(self) -> Segment:
        return self.segments[-1]

    # -- lifecycle ---------------------------------------------------------------------------------------------
    async def run(self) -> SessionResult:
        client_task = asyncio.ensure_future(self._read_client())
        try:
            if await self._connect_next(replay_from=None):
                while not self._done:
                    kind, segment, data = await next_message(self._queue, self._tick)
                    await self._handle(kind, segment, data)
                    await self._check_timers()
        finally:
            client_task.cancel()
            await self._drop_upstream()
            with contextlib.suppress(BaseException):
                await client_task
        return SessionResult(self.timeline.seconds(self.client_bytes), self.segments, self._failed)

    async def _read_client(self) -> None:
        while True:
            message = await self.client.receive()
            if message is None:
                await self._queue.put(("client_gone", -1, None))
                return
            await self._queue.put(("client_audio" if isinstance(message, bytes) else "client_text", -1, message))

    async def _handle(self, kind: str, segment: int, data: Any) -> None:
        if kind == "client_audio":
            await self._client_audio(data)
        elif kind == "client_text":
            await self._client_text(data)
        elif kind == "client_gone":
            self._done = True
        elif segment != len(self.segments) - 1:
            return  # a message from a vendor we already left
        elif kind == "upstream":
            await self._upstream_message(data)
        elif kind == "upstream_closed":
            await self._upstream_closed(data)

    async def _check_timers(self) -> None:
        now = self.clock.monotonic()
        if self._awaiting_since is not None and now - self._awaiting_since > self.config.realtime_stall:
            leg = self.segment.leg
            await self._fail(
                ProviderError(leg.provider_id, ErrorClass.TIMEOUT, f"no data for {self.config.realtime_stall:g}s")
            )
        elif self._closing_since is not None:
            if now - self._closing_since > self.config.close_timeout:
                self._done = True
        elif self._upstream is not None and now - self._last_upstream_send > self.config.keepalive_seconds:
            keepalive = self.segment.leg.route.protocol.keepalive(self.options.sample_rate, self.options.frame_bytes)
            if isinstance(keepalive, bytes):
                self.timeline.append(keepalive)  # silence is audio: it moves the vendor's clock (and is billed)
            await self._send(keepalive)

    # -- client → vendor ---------------------------------------------------------------------------------------
    async def _client_audio(self, data: bytes) -> None:
        if self._closing_since is not None or not data:
            return
        self.client_bytes += len(data)
        self.timeline.append(data)
        await self._send(data)

    async def _client_text(self, text: str) -> None:
        try:
            message = bounded_json.loads(text)  # a frame nested too deep is a bad frame, never a dead session
        except ValueError:
            message = None
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "CloseStream":
            self._closing_since = self.clock.monotonic()
            if self._awaiting_since is None:
                self._awaiting_since = self._closing_since
            await self._send(self.segment.leg.route.protocol.close_stream())
        elif kind == "KeepAlive":
            pass  # the relay keeps the vendor alive itself
        else:
            await self.client.send_json(
                {
                    "type": "error",
                    "error": {
                        "type": "invalid_request",
                        "message": 'send binary audio frames, or {"type": "CloseStream"}',
                    },
                }
            )

    async def _send(self, data: str | bytes) -> None:
        upstream = self._upstream
        if upstream is None:
            return
        try:
            if isinstance(data, bytes):
                await upstream.send_bytes(data)
                self.segment.sent_bytes += len(data)
                self._unanswered += len(data)
                if self._awaiting_since is None and self._unanswered >= self._owed_after:
                    self._awaiting_since = self.clock.monotonic()
            else:
                await upstream.send_text(data)
            self._last_upstream_send = self.clock.monotonic()
        except UpstreamClosed as closed:
            await self._upstream_closed(closed)

    # -- vendor → client ---------------------------------------------------------------------------------------
    async def _upstream_message(self, data: str | bytes) -> None:
        self._awaiting_since = None
        self._unanswered = 0
        if isinstance(data, bytes):
            return  # speech-to-text vendors only send JSON
        try:
            message = json.loads(data)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        protocol = self.segment.leg.route.protocol
        error = protocol.error_of(message)
        if error is not None:
            await self._fail(ProviderError(self.segment.leg.provider_id, ErrorClass.SERVER, error[:300]))
            return
        for event in protocol.translate(message):
            for out in self._place(event):
                await self.client.send_json(out.to_json(self.segment.leg.provider_id))
        if self._closing_since is not None and protocol.is_last(message):
            self._done = True

    def _place(self, event: Event) -> list[Event]:
        """Shift onto the session clock, drop what the client already has, keep turns consistent."""
        offset = self.timeline.seconds(self.segment.origin)
        if isinstance(event, Transcript):
            shifted = event.shifted(offset)
            kept = shifted.after(self._committed + DUPLICATE_TOLERANCE) if self._switched else shifted
            if kept is None:
                return []
            derive = self._turn_based and not self.segment.leg.route.protocol.emits_turns
            before: list[Event] = []
            if derive and kept.text and not self._turn_open:
                before = self._renumbered(Turn("StartOfTurn", "", 0, kept.start, kept.end))
            if kept.is_final:
                self._committed = max(self._committed, kept.end)
                if kept.text:
                    self._turn_words.append(kept.text)
            after: list[Event] = []
            if derive and kept.is_final and kept.speech_final and self._turn_open:
                after = self._renumbered(Turn("EndOfTurn", "", 0, kept.start, kept.end))
            return [*before, kept, *after]
        if isinstance(event, Turn):
            self._turn_based = True
            turn = event.shifted(offset, 0)
            if self._switched and self._replayed_turn(turn):
                return []
            return self._renumbered(turn)
        return [event.shifted(offset)]

    def _replayed_turn(self, turn: Turn) -> bool:
        """After a switch: a turn event about audio the client already has a final for. A turn that starts before
        the last final's end is the replayed tail of an old turn; an EndOfTurn with no turn open closes nothing (the
        one closing the open turn passes even though its final, just sent, moved the committed point up to it)."""
        if turn.event == "StartOfTurn":
            return turn.start < self._committed - DUPLICATE_TOLERANCE
        if turn.event == "EndOfTurn":
            return not self._turn_open
        return turn.end <= self._committed + DUPLICATE_TOLERANCE

    def _renumbered(self, turn: Turn) -> list[Event]:
        if turn.event == "StartOfTurn":
            if self._turn_open:
                return []  # the turn the previous vendor opened is still the one being spoken
            self._turn_open = True
            self._turn_words = []
        turn = Turn(turn.event, turn.transcript, self._turns_done, turn.start, turn.end, turn.end_of_turn_confidence)
        if turn.event == "EndOfTurn":
            if self._turn_words and len(" ".join(self._turn_words)) > len(turn.transcript):
                turn = Turn(
                    turn.event,
                    " ".join(self._turn_words),
                    turn.turn_index,
                    turn.start,
                    turn.end,
                    turn.end_of_turn_confidence,
                )
            self._turns_done += 1
            self._turn_open = False
            self._turn_words = []
        return [turn]

    async def _upstream_closed(self, closed: UpstreamClosed) -> None:
        if self._closing_since is not None and closed.code in (1000, None):
            self._done = True  # we asked it to close and it did
            return
        await self._fail(closed_error(self.segment.leg.provider_id, closed))

    # -- failover ----------------------------------------------------------------------------------------------
    async def _fail(self, error: ProviderError) -> None:
        failed = self.segment.leg
        await self._drop_upstream()
        self.legs.failed(failed, error)
        log.info("realtime: %s/%s failed (%s)", failed.provider_id, failed.route.model, error.message)
        replay_from = self.timeline.position_at(self._committed - self.config.replay_margin)
        if not await self._connect_next(replay_from=replay_from, previous=failed):
            self._done = True

    async def _connect_next(self, replay_from: int | None, previous: Leg[ListenRoute] | None = None) -> bool:
        while (leg := await self.legs.next()) is not None:
            started = self.clock.monotonic()
            try:
                upstream = await self.hooks.open_leg(leg)
            except ProviderError as exc:
                self.legs.failed(leg, exc)
                continue
            except asyncio.CancelledError:
                self.legs.abandoned(leg)
                raise
            self.legs.opened(leg, (self.clock.monotonic() - started) * 1000)
            origin, replay = (self.timeline.position, []) if replay_from is None else self.timeline.since(replay_from)
            self.segments.append(Segment(len(self.segments), leg, origin))
            self._upstream = upstream
            self._reader = asyncio.ensure_future(pump(upstream, self.segment.index, self._queue))
            self._last_upstream_send = self.clock.monotonic()
            self._awaiting_since, self._unanswered = None, 0
            if previous is not None:
                self._switched = True
                replayed = self.timeline.seconds(self.timeline.position - origin)
                await self.client.send_json(
                    {
                        "type": "provider_switch",
                        "from": previous.provider_id,
                        "to": leg.provider_id,
                        "model": leg.route.model,
                        "replayed_seconds": round(replayed, 3),
                    }
                )
            for chunk in replay:
                await self._send(chunk)
                if self._upstream is not upstream:
                    return True  # the new vendor failed during the replay; the failover already moved on
            if self._closing_since is not None:
                self._closing_since = self.clock.monotonic()  # the new vendor gets the whole close timeout
                await self._send(leg.route.protocol.close_stream())
                if self._awaiting_since is None:
                    self._awaiting_since = self._closing_since
            return True
        self._failed = True
        self._upstream = None
        return False

    async def _drop_upstream(self) -> None:
        upstream, reader = self._upstream, self._reader
        self._upstream, self._reader = None, None
        await stop(reader, upstream)
        if self.segments and not self.segments[-1].billed:
            segment = self.segments[-1]
            segment.seconds = self.timeline.seconds(segment.sent_bytes)
            segment.billed = True
            self.hooks.segment_done(segment)
