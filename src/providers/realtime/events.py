"""The vendor-neutral realtime event schema (spec/API.md ``/voice/realtime``), in vendor audio time.

Protocols produce these with times relative to the start of *their* upstream connection; the relay shifts them onto
the session's timeline (a failover replays audio, so a new vendor's zero is not the session's zero).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class Word:
    word: str
    start: float | None = None
    end: float | None = None
    confidence: float | None = None

    def shifted(self, offset: float) -> Word:
        return replace(
            self,
            start=None if self.start is None else self.start + offset,
            end=None if self.end is None else self.end + offset,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"word": self.word}
        if self.start is not None:
            out["start"] = round(self.start, 3)
        if self.end is not None:
            out["end"] = round(self.end, 3)
        if self.confidence is not None:
            out["confidence"] = self.confidence
        return out


@dataclass(frozen=True)
class Transcript:
    text: str
    is_final: bool
    start: float
    end: float
    words: tuple[Word, ...] = ()
    speech_final: bool = False

    def shifted(self, offset: float) -> Transcript:
        return replace(
            self, start=self.start + offset, end=self.end + offset, words=tuple(w.shifted(offset) for w in self.words)
        )

    def after(self, moment: float) -> Transcript | None:
        """Only the part of this transcript that ends after ``moment`` (None when nothing is left).

        Words carry times on every vendor we speak to; a transcript without words is kept or dropped whole.
        """
        if self.end <= moment:
            return None
        if not self.words or all(w.end is None for w in self.words):
            return self
        kept = tuple(w for w in self.words if w.end is None or w.end > moment)
        if not kept:
            return None
        if len(kept) == len(self.words):
            return self
        first_start = kept[0].start if kept[0].start is not None else self.start
        return replace(self, text=" ".join(w.word for w in kept), words=kept, start=max(self.start, first_start))

    def to_json(self, provider: str) -> dict[str, Any]:
        return {
            "type": "transcript",
            "text": self.text,
            "is_final": self.is_final,
            "speech_final": self.speech_final,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "words": [w.to_json() for w in self.words],
            "provider": provider,
        }


@dataclass(frozen=True)
class Turn:
    """A Flux turn event (StartOfTurn, EagerEndOfTurn, TurnResumed, EndOfTurn; Update is sent as a transcript)."""

    event: str
    transcript: str
    turn_index: int
    start: float
    end: float
    end_of_turn_confidence: float | None = None

    def shifted(self, offset: float, turn_offset: int) -> Turn:
        return replace(self, start=self.start + offset, end=self.end + offset, turn_index=self.turn_index + turn_offset)

    def to_json(self, provider: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "turn",
            "event": self.event,
            "transcript": self.transcript,
            "turn_index": self.turn_index,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "provider": provider,
        }
        if self.end_of_turn_confidence is not None:
            out["end_of_turn_confidence"] = self.end_of_turn_confidence
        return out


@dataclass(frozen=True)
class Other:
    """Anything else worth passing on (``utterance_end``, ``speech_started``, vendor ``warning``), times shifted."""

    type: str
    fields: dict[str, Any] = field(default_factory=dict)
    time_fields: tuple[str, ...] = ()

    def shifted(self, offset: float) -> Other:
        moved = dict(self.fields)
        for name in self.time_fields:
            if isinstance(moved.get(name), (int, float)):
                moved[name] = round(moved[name] + offset, 3)
        return replace(self, fields=moved)

    def to_json(self, provider: str) -> dict[str, Any]:
        return {"type": self.type, **self.fields, "provider": provider}


Event = Transcript | Turn | Other
