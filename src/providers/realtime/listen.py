"""Deepgram's two streaming speech-to-text protocols (reference/providers.md §2.2, §2.5, §7.2).

``nova``: ``/v1/listen`` — ``Results`` (interim/final, ``speech_final``), ``UtteranceEnd``, ``SpeechStarted``,
``Metadata`` after ``CloseStream``; keepalive is a ``{"type":"KeepAlive"}`` *text* frame (10 s idle ⇒ NET-0001).
``flux``: ``/v2/listen`` — ``Connected`` then ``TurnInfo`` events; there is no KeepAlive message (a JSON KeepAlive
ends the session), so the keepalive is a short frame of silence, which the vendor bills like any audio.
Both are served by Deepgram directly and by Workers AI through AI Gateway with the same messages.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from providers.realtime.events import Event, Other, Transcript, Turn, Word

CLOSE_STREAM = json.dumps({"type": "CloseStream"})
KEEPALIVE = json.dumps({"type": "KeepAlive"})
SILENCE_SECONDS = 0.1


def _words(raw: Any) -> tuple[Word, ...]:
    out = []
    for item in raw or []:
        if not isinstance(item, dict) or "word" not in item:
            continue
        out.append(Word(
            word=str(item.get("punctuated_word") or item["word"]),
            start=float(item["start"]) if isinstance(item.get("start"), (int, float)) else None,
            end=float(item["end"]) if isinstance(item.get("end"), (int, float)) else None,
            confidence=item.get("confidence") if isinstance(item.get("confidence"), (int, float)) else None,
        ))
    return tuple(out)


@dataclass(frozen=True)
class ListenProtocol:
    name: str
    # True when the vendor reports turns itself (StartOfTurn/EndOfTurn); otherwise the relay derives them from
    # ``speech_final`` results when the session started on a turn-based vendor.
    emits_turns: ClassVar[bool] = False

    def keepalive(self, sample_rate: int, bytes_per_sample: int) -> str | bytes:
        raise NotImplementedError

    def close_stream(self) -> str:
        return CLOSE_STREAM

    def translate(self, message: dict[str, Any]) -> Sequence[Event]:
        raise NotImplementedError

    def is_last(self, message: dict[str, Any]) -> bool:
        """The vendor's final message after ``CloseStream`` (the relay may stop waiting for the close)."""
        return False

    def error_of(self, message: dict[str, Any]) -> str | None:
        """A vendor-reported fatal error inside the stream, as text (the relay fails over on it)."""
        if message.get("type") == "Error":
            return f"{message.get('code', 'ERROR')}: {message.get('description', '')}".strip()
        return None


class NovaProtocol(ListenProtocol):
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
            return (Transcript(
                text=str(alternative.get("transcript") or ""),
                is_final=bool(message.get("is_final")),
                speech_final=bool(message.get("speech_final")),
                start=start,
                end=start + float(message.get("duration") or 0.0),
                words=_words(alternative.get("words")),
            ),)
        if kind == "UtteranceEnd":
            return (Other("utterance_end", {"last_word_end": message.get("last_word_end")}, ("last_word_end",)),)
        if kind == "SpeechStarted":
            return (Other("speech_started", {"timestamp": message.get("timestamp")}, ("timestamp",)),)
        return ()

    def is_last(self, message: dict[str, Any]) -> bool:
        return message.get("type") == "Metadata"


class FluxProtocol(ListenProtocol):
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
