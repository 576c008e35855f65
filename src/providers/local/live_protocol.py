"""The built-in recognizer's realtime wire protocol (the JSON lines ``live`` emits) as the relay's vendor-neutral
events, and the realtime route that opens it. Like Flux, it is turn-based: ``start`` is StartOfTurn, ``partial`` an
interim transcript, ``final`` the final transcript followed by EndOfTurn."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from gateway.errors import ErrorClass, ProviderError
from gateway.ports import UpstreamWebSocket, WebSocketOpener
from providers.base import Call
from providers.local.live_session import SESSIONS_ENV, open_session, session_limit
from providers.realtime.events import Event, Transcript, Turn, Word
from providers.realtime.listen import ListenProtocol
from providers.realtime.routes import ListenOptions, ListenRoute

MODEL = "pocketsphinx"  # the route's model name: never one a vendor serves, so it is tried after every vendor's
VENDOR_MODEL = "pocketsphinx-en-us"
CLOSE_STREAM = json.dumps({"type": "CloseStream"})  # what ``live_session`` reads as "finish and close"
KEEPALIVE = json.dumps({"type": "KeepAlive"})


def _float(value: Any, default: float = 0.0) -> float:
    return float(value) if isinstance(value, (int, float)) else default


class LocalListenProtocol(ListenProtocol):
    emits_turns = True

    def keepalive(self, sample_rate: int, bytes_per_sample: int) -> str | bytes:
        return KEEPALIVE  # ignored by the worker: a local process has no idle timeout

    def close_stream(self) -> str:
        return CLOSE_STREAM

    def translate(self, message: dict[str, Any]) -> Sequence[Event]:
        kind = message.get("type")
        start, end = _float(message.get("start")), _float(message.get("end"))
        turn = int(message.get("turn") or 0)
        text = str(message.get("text") or "")
        if kind == "start":
            return (Turn("StartOfTurn", "", turn, start, start),)
        if kind == "partial":
            return (Transcript(text=text, is_final=False, start=start, end=end),)
        if kind == "final":
            words = tuple(Word(str(w[0]), _float(w[1]), _float(w[2]), w[3]) for w in message.get("words") or ()
                          if isinstance(w, list) and len(w) == 4)  # fmt: skip
            final = Transcript(text=text, is_final=True, speech_final=True, start=start, end=end, words=words)
            return (final, Turn("EndOfTurn", text, turn, start, end))
        return ()

    def is_last(self, message: dict[str, Any]) -> bool:
        return message.get("type") == "closed"

    def error_of(self, message: dict[str, Any]) -> str | None:
        if message.get("type") == "error":
            return str(message.get("message") or "the built-in recognizer failed")
        return None


LOCAL = LocalListenProtocol("local")


def _no_url(call: Call, options: ListenOptions) -> tuple[str, dict[str, str]]:
    raise ProviderError("local", ErrorClass.UNSUPPORTED, "the built-in recognizer runs in-process, not at a URL")


@dataclass(frozen=True)
class LocalListenRoute(ListenRoute):
    async def open(self, call: Call, options: ListenOptions, opener: WebSocketOpener | None) -> UpstreamWebSocket:
        if options.language and not options.language.lower().startswith("en"):
            raise ProviderError("local", ErrorClass.UNSUPPORTED, "the built-in recognizer hears English only")
        limit = session_limit(call.credentials.extra.get(SESSIONS_ENV))
        return await open_session(options.sample_rate, limit, call.timeout)


LISTEN_ROUTES = (LocalListenRoute("local", MODEL, LOCAL, VENDOR_MODEL, Decimal(0), _no_url),)
