"""Fake Deepgram WebSocket APIs: Flux (``/v2/listen``), Nova (``/v1/listen``) and Aura Speak (``/v1/speak``), also
served at AI Gateway's ``/v1/{account}/{gateway}/workers-ai?model=@cf/deepgram/{flux|nova-3|aura-1}``.

Transcripts come from the audio itself, deterministically: linear16 samples hold a constant value per "word" —
``word_audio(k)`` is word ``WORDS[k]`` (value ``WORD_BASE + k * WORD_STEP``); zeros are silence. A run of one value is
one word, timed by the samples the fake received, so a vendor that hears replayed audio recognises the same words at
the same audio positions — which is what lets tests check that duplicate spans are dropped and nothing is lost.

Faults, taken per connection from ``state`` (``state.fail(...)``):
    Fault("status", status=401|429|503)   refuse the handshake with that HTTP status and Deepgram's error body
    Fault("cut", delay=S)                 after S seconds of audio, abort the TCP connection (no close frame: 1006)
    Fault("hang", delay=S)                after S seconds of audio, keep reading but never answer again (a stall)
    (speak) "cut"/"hang" apply after ``after_chunks`` answered flushes instead of after ``delay`` seconds of audio
``state.options``: ``idle_timeout`` (seconds without audio/KeepAlive before NET-0001, default 10), ``eot_silence``
(Flux end of turn, default 0.4 s), ``eager_silence`` (0.2 s), ``endpointing`` (Nova, 0.3 s).
Every connection is recorded in ``state.requests`` (method ``WS``) and its audio seconds in
``state.options["sessions"]`` as dicts ``{"path", "model", "audio_seconds", "texts"}``.
"""

from __future__ import annotations

import asyncio
import json
import struct
import uuid
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.fakes.audio import sine_pcm
from tests.fakes.deepgram import API_KEY, ERRORS
from tests.fakes.harness import FakeState, Fault, RecordedRequest

CF_TOKEN = "test-cf-token"
WORDS = (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec "
    "romeo sierra tango uniform victor whiskey xray yankee zulu"
).split()
WORD_BASE, WORD_STEP = 1000, 100
UPDATE_EVERY = 0.25  # Flux: an Update per quarter second of audio
INTERIM_EVERY = 0.5  # Nova: an interim (or an empty final in silence) per half second of audio
MIN_WORD_SECONDS = 0.02


def word_audio(index: int, seconds: float, sample_rate: int = 16000) -> bytes:
    n = int(seconds * sample_rate)
    return struct.pack(f"<{n}h", *([WORD_BASE + index * WORD_STEP] * n))


def silence(seconds: float, sample_rate: int = 16000) -> bytes:
    return bytes(int(seconds * sample_rate) * 2)


def utterance(indexes: list[int], word_seconds: float = 0.3, pause: float = 0.6, rate: int = 16000) -> bytes:
    return b"".join(word_audio(i, word_seconds, rate) for i in indexes) + silence(pause, rate)


class Recognizer:
    """Runs of equal samples → words (value → WORDS index) and silences, timed by samples received."""

    def __init__(self, sample_rate: int) -> None:
        self.rate = sample_rate
        self.samples = 0
        self.value: int | None = None
        self.run_start = 0
        self._odd = b""
        self.words: list[dict[str, Any]] = []  # completed words not yet finalised by the session

    @property
    def now(self) -> float:
        return self.samples / self.rate

    @property
    def silent_for(self) -> float:
        return (self.samples - self.run_start) / self.rate if self.value == 0 else 0.0

    @property
    def speaking(self) -> bool:
        return self.value not in (None, 0)

    def feed(self, data: bytes) -> list[str]:
        """Samples in; returns "word_start"/"word_end" markers in order."""
        data = self._odd + data
        usable = len(data) - len(data) % 2
        self._odd = data[usable:]
        marks: list[str] = []
        for (sample,) in struct.iter_unpack("<h", data[:usable]):
            value = 0 if abs(sample) < WORD_BASE // 2 else sample
            if value != self.value:
                if self.value not in (None, 0):
                    self._end_word()
                    marks.append("word_end")
                self.value, self.run_start = value, self.samples
                if value != 0:
                    marks.append("word_start")
            self.samples += 1
        return marks

    def _end_word(self) -> None:
        start, end = self.run_start / self.rate, self.samples / self.rate
        if end - start < MIN_WORD_SECONDS or self.value is None:
            return
        index = round((self.value - WORD_BASE) / WORD_STEP) % len(WORDS)
        self.words.append({"word": WORDS[index], "start": round(start, 3), "end": round(end, 3), "confidence": 0.99})

    def flush(self) -> None:
        if self.value not in (None, 0):
            self._end_word()
            self.value, self.run_start = 0, self.samples


def _authorized(ws: WebSocket, gateway: bool) -> bool:
    if gateway:
        values = (ws.headers.get("cf-aig-authorization", ""), ws.headers.get("authorization", ""))
        return any(v in (CF_TOKEN, f"Bearer {CF_TOKEN}") for v in values)
    return ws.headers.get("authorization", "") == f"Token {API_KEY}"


def _abort(ws: WebSocket) -> None:
    """Drop the TCP connection without a close frame (the peer sees 1006)."""
    ws.scope["fake.transport"].abort()


class Session:
    """What every WebSocket fake shares: fault handling, idle timeout, bookkeeping."""

    def __init__(self, ws: WebSocket, state: FakeState, fault: Fault | None, model: str) -> None:
        self.ws = ws
        self.state = state
        self.fault = fault
        self.sequence = 0
        self.request_id = str(uuid.uuid4())
        self.hung = False
        self.log: dict[str, Any] = {"path": ws.url.path, "model": model, "audio_seconds": 0.0, "texts": []}
        state.options.setdefault("sessions", []).append(self.log)

    async def send(self, message: dict[str, Any], counted: bool = True) -> None:
        if self.hung:
            return
        if counted:
            message["sequence_id"] = self.sequence
            self.sequence += 1
        await self.ws.send_text(json.dumps(message))

    def audio_fault(self, seconds: float) -> None:
        """Apply cut/hang once the session has heard ``fault.delay`` seconds of audio."""
        self.log["audio_seconds"] = seconds
        if self.fault is None or seconds < self.fault.delay:
            return
        if self.fault.kind == "cut":
            _abort(self.ws)
            raise WebSocketDisconnect(1006)
        if self.fault.kind == "hang":
            self.hung = True

    async def receive(self) -> dict[str, Any]:
        timeout = float(self.state.options.get("idle_timeout", 10.0))
        try:
            message = await asyncio.wait_for(self.ws.receive(), timeout)
        except TimeoutError:
            await self.ws.close(1011, "NET-0001: no audio or KeepAlive received")
            raise WebSocketDisconnect(1011) from None
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        return message


async def _flux(ws: WebSocket, state: FakeState, fault: Fault | None, params: dict[str, str]) -> None:
    rate = int(params.get("sample_rate", "16000"))
    session = Session(ws, state, fault, params.get("model", "flux"))
    recognizer = Recognizer(rate)
    eot, eager = float(state.options.get("eot_silence", 0.4)), float(state.options.get("eager_silence", 0.2))
    eager_enabled = "eager_eot_threshold" in params
    turn_index, turn_state, turn_start, next_update = 0, "idle", 0.0, UPDATE_EVERY

    def transcript() -> str:
        return " ".join(w["word"] for w in recognizer.words)

    async def turn_info(event: str) -> None:
        words = list(recognizer.words)
        await session.send({
            "type": "TurnInfo", "request_id": session.request_id, "event": event, "turn_index": turn_index,
            "audio_window_start": round(turn_start, 3), "audio_window_end": round(recognizer.now, 3),
            "transcript": transcript(), "words": words,
            "end_of_turn_confidence": 0.9 if event in ("EndOfTurn", "EagerEndOfTurn") else 0.1,
        })  # fmt: skip

    async def end_turn() -> None:
        nonlocal turn_index, turn_state
        await turn_info("EndOfTurn")
        session.log["texts"].append(transcript())
        recognizer.words.clear()
        turn_index += 1
        turn_state = "idle"

    await session.send({"type": "Connected", "request_id": session.request_id})
    while True:
        message = await session.receive()
        if message.get("text") is not None:
            kind = json.loads(message["text"]).get("type")
            if session.hung:
                continue  # a stalled vendor does not answer CloseStream either
            if kind == "CloseStream":
                recognizer.flush()
                if turn_state != "idle":
                    await end_turn()
                await ws.close(1000)
                return
            if kind != "Configure":  # Flux has no KeepAlive: a JSON KeepAlive ends the session
                await ws.close(1008, f"unsupported message type {kind!r}")
                return
            continue
        for mark in recognizer.feed(message.get("bytes") or b""):
            if mark == "word_start" and turn_state == "idle":
                turn_state, turn_start = "speaking", recognizer.run_start / rate
                await turn_info("StartOfTurn")
            elif mark == "word_start" and turn_state == "eager":
                turn_state = "speaking"
                await turn_info("TurnResumed")
        session.audio_fault(recognizer.now)
        if turn_state == "speaking" and eager_enabled and recognizer.silent_for >= eager and recognizer.words:
            turn_state = "eager"
            await turn_info("EagerEndOfTurn")
        if turn_state != "idle" and recognizer.silent_for >= eot and recognizer.words:
            await end_turn()
        while recognizer.now >= next_update:
            next_update += UPDATE_EVERY
            if turn_state != "idle":
                await turn_info("Update")
            else:
                await session.send(
                    {
                        "type": "TurnInfo",
                        "request_id": session.request_id,
                        "event": "Update",
                        "turn_index": turn_index,
                        "audio_window_start": round(recognizer.now, 3),
                        "audio_window_end": round(recognizer.now, 3),
                        "transcript": "",
                        "words": [],
                        "end_of_turn_confidence": 0.0,
                    }
                )


async def _nova(ws: WebSocket, state: FakeState, fault: Fault | None, params: dict[str, str]) -> None:
    rate = int(params.get("sample_rate", "16000"))
    session = Session(ws, state, fault, params.get("model", "nova-3"))
    recognizer = Recognizer(rate)
    endpointing = float(state.options.get("endpointing", 0.3))
    interim = params.get("interim_results") == "true"
    final_start, next_interim = 0.0, INTERIM_EVERY

    async def results(is_final: bool, speech_final: bool = False, from_finalize: bool = False) -> None:
        nonlocal final_start
        words = list(recognizer.words)
        text = " ".join(w["word"] for w in words)
        await session.send({
            "type": "Results", "channel_index": [0, 1], "start": round(final_start, 3),
            "duration": round(recognizer.now - final_start, 3), "is_final": is_final, "speech_final": speech_final,
            "from_finalize": from_finalize,
            "channel": {"alternatives": [{"transcript": text, "confidence": 0.99 if words else 0.0, "words": words}]},
            "metadata": {"request_id": session.request_id, "model_info": {"name": "general", "arch": "nova-3"}},
        }, counted=False)  # fmt: skip
        if is_final:
            if text:
                session.log["texts"].append(text)
            recognizer.words.clear()
            final_start = recognizer.now

    while True:
        message = await session.receive()
        if message.get("text") is not None:
            kind = json.loads(message["text"]).get("type")
            if session.hung:
                continue
            if kind in ("CloseStream", "Finalize"):
                recognizer.flush()
                await results(True, speech_final=bool(recognizer.words), from_finalize=True)
                if kind == "CloseStream":
                    await session.send(
                        {
                            "type": "Metadata",
                            "transaction_key": "deprecated",
                            "request_id": session.request_id,
                            "created": "2026-01-01T00:00:00Z",
                            "duration": round(recognizer.now, 3),
                            "channels": 1,
                        },
                        counted=False,
                    )
                    await ws.close(1000)
                    return
            continue  # KeepAlive: no answer
        recognizer.feed(message.get("bytes") or b"")
        session.audio_fault(recognizer.now)
        if recognizer.words and recognizer.silent_for >= endpointing:
            last_end = recognizer.words[-1]["end"]
            await results(True, speech_final=True)
            if "utterance_end_ms" in params:
                await session.send(
                    {"type": "UtteranceEnd", "channel": [0, 1], "last_word_end": last_end}, counted=False
                )
        while recognizer.now >= next_interim:
            next_interim += INTERIM_EVERY
            if recognizer.words or recognizer.speaking:
                if interim:
                    await results(False)
            else:
                await results(True)  # silence: an empty final keeps the stream moving, as Deepgram's does


SPEAK_SECONDS_PER_CHAR = 0.02


def speak_audio(text: str, sample_rate: int) -> bytes:
    return sine_pcm(max(0.05, len(text) * SPEAK_SECONDS_PER_CHAR), sample_rate)


async def _speak(ws: WebSocket, state: FakeState, fault: Fault | None, params: dict[str, str]) -> None:
    rate = int(params.get("sample_rate", "24000"))
    session = Session(ws, state, fault, params.get("model", "aura-2-thalia-en"))
    buffered: list[str] = []
    flushes = 0
    await session.send(
        {
            "type": "Metadata",
            "request_id": session.request_id,
            "model_name": params.get("model"),
            "model_version": "fake",
            "model_uuid": "00000000-fake-aura",
        },
        counted=False,
    )
    while True:
        message = await session.receive()
        if message.get("text") is None:
            await session.send(
                {"type": "Warning", "description": "binary frames are not accepted", "code": "BAD_FRAME"}, counted=False
            )
            continue
        body = json.loads(message["text"])
        kind = body.get("type")
        if kind == "Speak":
            buffered.append(str(body.get("text", "")))
        elif kind == "Clear":
            buffered.clear()
            await session.send({"type": "Cleared", "sequence_id": flushes}, counted=False)
        elif kind == "Flush":
            text = "".join(buffered)
            buffered.clear()
            if fault is not None and fault.kind == "cut" and flushes >= fault.after_chunks:
                _abort(ws)
                return
            if fault is not None and fault.kind == "hang" and flushes >= fault.after_chunks:
                session.hung = True
                continue
            audio = speak_audio(text, rate)
            third = max(2, len(audio) // 3 - (len(audio) // 3) % 2)
            for start in range(0, len(audio), third):
                await ws.send_bytes(audio[start : start + third])
            session.log["texts"].append(text)
            session.log["audio_seconds"] += len(audio) / (2 * rate)
            await session.send({"type": "Flushed", "sequence_id": flushes}, counted=False)
            flushes += 1
        elif kind == "Close":
            await ws.close(1000)
            return


HANDLERS: dict[str, Callable[..., Any]] = {"flux": _flux, "nova": _nova, "speak": _speak}
GATEWAY_MODELS = {"@cf/deepgram/flux": "flux", "@cf/deepgram/nova-3": "nova", "@cf/deepgram/aura-1": "speak"}


def create_app(state: FakeState) -> Any:
    async def serve(ws: WebSocket, kind: str | None, gateway: bool) -> None:
        params = dict(ws.query_params)
        state.requests.append(
            RecordedRequest("WS", ws.url.path, ws.url.query, {k.lower(): v for k, v in ws.headers.items()}, b"")
        )
        fault = state.take_fault()
        if fault is not None and fault.kind == "status":
            body = dict(fault.body if fault.body is not None else ERRORS.get(fault.status, ERRORS[500]))
            await ws.send_denial_response(JSONResponse(body, status_code=fault.status))
            return
        if not _authorized(ws, gateway):
            await ws.send_denial_response(JSONResponse(ERRORS[401], status_code=401))
            return
        if gateway:
            kind = GATEWAY_MODELS.get(params.get("model", ""))
            if kind == "speak":
                params.setdefault("sample_rate", "24000")
        if kind is None or (kind in ("flux", "nova") and params.get("encoding") != "linear16"):
            await ws.send_denial_response(JSONResponse(ERRORS[400], status_code=400))
            return
        await ws.accept()
        try:
            await HANDLERS[kind](ws, state, fault, params)
        except WebSocketDisconnect:
            pass

    async def flux(ws: WebSocket) -> None:
        await serve(ws, "flux", False)

    async def nova(ws: WebSocket) -> None:
        await serve(ws, "nova", False)

    async def speak(ws: WebSocket) -> None:
        await serve(ws, "speak", False)

    async def gateway(ws: WebSocket) -> None:
        await serve(ws, None, True)

    app = Starlette(routes=[
        WebSocketRoute("/v2/listen", flux),
        WebSocketRoute("/v1/listen", nova),
        WebSocketRoute("/v1/speak", speak),
        WebSocketRoute("/v1/{account}/{gateway}/workers-ai", gateway),
    ])  # fmt: skip

    async def with_transport(scope: dict[str, Any], receive: Any, send: Any) -> None:
        # uvicorn's send is its protocol's bound method: its transport lets a fault drop the TCP connection.
        if scope["type"] == "websocket":
            scope["fake.transport"] = send.__self__.transport
        await app(scope, receive, send)

    return with_transport
