"""Deepgram over WebSockets: the Nova and Flux streaming speech-to-text protocols, Aura's streaming speech
protocol, where Deepgram serves them, its auth and its streaming prices (reference/providers.md §2.2, §2.5, §7.2).

``nova``: ``/v1/listen`` — ``Results`` (interim/final, ``speech_final``), ``UtteranceEnd``, ``SpeechStarted``,
``Metadata`` after ``CloseStream``; keepalive is a ``{"type":"KeepAlive"}`` *text* frame (10 s idle ⇒ NET-0001).
``flux``: ``/v2/listen`` — ``Connected`` then ``TurnInfo`` events; there is no KeepAlive message (a JSON KeepAlive
ends the session), so the keepalive is a short frame of silence, which the vendor bills like any audio.
``aura``: ``/v1/speak`` — ``Speak``/``Flush``/``Clear``/``Close`` in; linear16 audio frames and ``Flushed``/
``Cleared``/``Warning`` out. Auth is ``Authorization: Token <key>``.

Workers AI serves the same models with the same messages through AI Gateway (``providers.workers_ai.realtime``
uses the protocols and ``nova_params`` from here).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from gateway.errors import ErrorClass, ProviderError
from providers.base import Call, per_million
from providers.realtime.events import Event, Other, Transcript, Turn, Word
from providers.realtime.listen import ListenProtocol
from providers.realtime.routes import ListenOptions, ListenRoute, SpeakOptions, SpeakRoute, websocket_base
from providers.realtime.speak import AuraProtocol

PROVIDER_ID = "deepgram"
CLOSE_STREAM = json.dumps({"type": "CloseStream"})
KEEPALIVE = json.dumps({"type": "KeepAlive"})
SILENCE_SECONDS = 0.1

PER_MINUTE = Decimal(60)
# Streaming list prices, USD per audio second / character (reference/providers.md §2 [UNCONF]).
FLUX_PER_SECOND = Decimal("0.0065") / PER_MINUTE
NOVA3_STREAMING_PER_SECOND = Decimal("0.0077") / PER_MINUTE
AURA1_PER_CHARACTER = per_million("15.00")
AURA2_PER_CHARACTER = per_million("30.00")


def _words(raw: Any) -> tuple[Word, ...]:
    out = []
    for item in raw or []:
        if not isinstance(item, dict) or "word" not in item:
            continue
        out.append(
            Word(
                word=str(item.get("punctuated_word") or item["word"]),
                start=float(item["start"]) if isinstance(item.get("start"), (int, float)) else None,
                end=float(item["end"]) if isinstance(item.get("end"), (int, float)) else None,
                confidence=item.get("confidence") if isinstance(item.get("confidence"), (int, float)) else None,
            )
        )
    return tuple(out)


class DeepgramListenProtocol(ListenProtocol):
    def close_stream(self) -> str:
        return CLOSE_STREAM

    def error_of(self, message: dict[str, Any]) -> str | None:
        if message.get("type") == "Error":
            return f"{message.get('code', 'ERROR')}: {message.get('description', '')}".strip()
        return None


class NovaProtocol(DeepgramListenProtocol):
    def keepalive(self, sample_rate: int, bytes_per_sample: int) -> str | bytes:
        return KEEPALIVE

    def translate(self, message: dict[str, Any]) -> Sequence[Event]:
        kind = message.get("type")
        if kind == "Results":
            try:
                alternative = message["channel"]["alternatives"][0]
            except (KeyError, IndexError, TypeError):
                return ()
            start = float(message.get("start") or 0.0)
            return (
                Transcript(
                    text=str(alternative.get("transcript") or ""),
                    is_final=bool(message.get("is_final")),
                    speech_final=bool(message.get("speech_final")),
                    start=start,
                    end=start + float(message.get("duration") or 0.0),
                    words=_words(alternative.get("words")),
                ),
            )
        if kind == "UtteranceEnd":
            return (Other("utterance_end", {"last_word_end": message.get("last_word_end")}, ("last_word_end",)),)
        if kind == "SpeechStarted":
            return (Other("speech_started", {"timestamp": message.get("timestamp")}, ("timestamp",)),)
        return ()

    def is_last(self, message: dict[str, Any]) -> bool:
        return message.get("type") == "Metadata"


class FluxProtocol(DeepgramListenProtocol):
    emits_turns = True

    def keepalive(self, sample_rate: int, bytes_per_sample: int) -> str | bytes:
        return bytes(int(sample_rate * SILENCE_SECONDS) * bytes_per_sample)

    def translate(self, message: dict[str, Any]) -> Sequence[Event]:
        if message.get("type") != "TurnInfo":
            return ()
        event = str(message.get("event") or "")
        start = float(message.get("audio_window_start") or 0.0)
        end = float(message.get("audio_window_end") or start)
        text = str(message.get("transcript") or "")
        words = _words(message.get("words"))
        if event == "Update":
            return (Transcript(text=text, is_final=False, start=start, end=end, words=words),)
        turn = Turn(
            event=event, transcript=text, turn_index=int(message.get("turn_index") or 0), start=start, end=end,
            end_of_turn_confidence=message.get("end_of_turn_confidence"),
        )  # fmt: skip
        if event == "EndOfTurn":
            final = Transcript(text=text, is_final=True, speech_final=True, start=start, end=end, words=words)
            return (final, turn)
        return (turn,)


NOVA = NovaProtocol("nova")
FLUX = FluxProtocol("flux")
AURA = AuraProtocol("aura")


def headers(call: Call) -> dict[str, str]:
    if not call.credentials.api_key:
        raise ProviderError(PROVIDER_ID, ErrorClass.AUTH, "no Deepgram API key configured")
    return {"Authorization": f"Token {call.credentials.api_key}"}


def _base(call: Call) -> str:
    return websocket_base(call.credentials.base_url.rstrip("/"))


def flux_model(options: ListenOptions) -> str:
    language = (options.language or "en").split("-")[0].lower()
    return "flux-general-en" if language == "en" else "flux-general-multi"


def _flux(call: Call, options: ListenOptions) -> tuple[str, dict[str, str]]:
    params = {"model": flux_model(options), "encoding": options.encoding, "sample_rate": str(options.sample_rate)}
    if options.language and flux_model(options) == "flux-general-multi":
        params["language_hint"] = options.language
    return f"{_base(call)}/v2/listen?{urlencode(params)}", headers(call)


def nova_params(options: ListenOptions, model: str) -> dict[str, str]:
    params = {
        "model": model, "encoding": options.encoding, "sample_rate": str(options.sample_rate),
        "channels": str(options.channels), "interim_results": "true", "punctuate": "true",
        "utterance_end_ms": "1000", "vad_events": "true",
    }  # fmt: skip
    if options.language:
        params["language"] = options.language
    return params


def _nova(call: Call, options: ListenOptions) -> tuple[str, dict[str, str]]:
    return f"{_base(call)}/v1/listen?{urlencode(nova_params(options, 'nova-3'))}", headers(call)


def aura_model(voice: str | None) -> str:
    if voice and voice.startswith("aura-"):
        return voice
    return (
        f"aura-2-{voice}-en"
        if voice and voice.isalpha() and voice not in ("female", "male", "neutral")
        else "aura-2-thalia-en"
    )


def _speak(call: Call, options: SpeakOptions) -> tuple[str, dict[str, str], str]:
    model = aura_model(options.voice)
    params = {"model": model, "encoding": "linear16", "sample_rate": str(options.sample_rate)}
    return f"{_base(call)}/v1/speak?{urlencode(params)}", headers(call), model


@dataclass(frozen=True)
class AuraRoute(SpeakRoute):
    def price(self, model: str | None = None) -> Decimal:
        """Aura-1 and Aura-2 are priced apart; a voice named as an Aura-1 model costs Aura-1's price."""
        if model and model.startswith("aura-") and not model.startswith("aura-2"):
            return AURA1_PER_CHARACTER
        return self.price_per_character


# The gateway's model names: "flux" and "nova-3" (Workers AI serves the same two under the same names).
FLUX_ALIASES = ("flux-general-en",)
NOVA_ALIASES = ("nova",)
LISTEN_ROUTES = (
    ListenRoute(PROVIDER_ID, "flux", FLUX, "flux-general-en", FLUX_PER_SECOND, _flux, FLUX_ALIASES),
    ListenRoute(PROVIDER_ID, "nova-3", NOVA, "nova-3", NOVA3_STREAMING_PER_SECOND, _nova, NOVA_ALIASES),
)
SPEAK_ROUTES = (AuraRoute(PROVIDER_ID, AURA, AURA2_PER_CHARACTER, _speak),)
