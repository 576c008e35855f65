"""What a vendor's streaming text-to-speech wire protocol must tell the speak relay.

The relay works in *flushes* (the text the client spoke up to a ``Flush``). A protocol says which messages make the
vendor speak one flush, drop what is in flight (``clear``) and end (``close``), and reads each vendor message as a
``SpeakEvent``: audio, "that flush is done", "the clear is done", a warning, or nothing. Implementations live with
their vendor; the one protocol here is Deepgram Aura's four messages, because it is also what ``/voice/speak-stream``'s
clients speak and what the built-in engine's speak socket answers (``providers.deepgram.realtime.AURA``,
``providers.local.speak_session.LOCAL_SPEAK``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

AUDIO, FLUSHED, CLEARED, WARNING = "audio", "flushed", "cleared", "warning"


@dataclass(frozen=True)
class SpeakEvent:
    kind: str  # audio | flushed | cleared | warning
    audio: bytes = b""
    fields: dict[str, Any] | None = None  # a warning's ``code`` and ``description``


@dataclass(frozen=True)
class SpeakProtocol:
    name: str

    def speak(self, text: str) -> Sequence[str]:
        """The text messages that make the vendor speak ``text`` now and report when it is done."""
        raise NotImplementedError

    def clear(self) -> str:
        """The message dropping everything in flight (the vendor confirms with a ``cleared`` event)."""
        raise NotImplementedError

    def close(self) -> str | None:
        """The last message before the relay closes the socket (None: just close)."""
        return None

    def translate(self, message: str | bytes) -> SpeakEvent | None:
        raise NotImplementedError


class AuraProtocol(SpeakProtocol):
    """Speak/Flush/Clear/Close out; audio frames, Flushed, Cleared and Warning back."""

    def speak(self, text: str) -> Sequence[str]:
        return (json.dumps({"type": "Speak", "text": text}), json.dumps({"type": "Flush"}))

    def clear(self) -> str:
        return json.dumps({"type": "Clear"})

    def close(self) -> str | None:
        return json.dumps({"type": "Close"})

    def translate(self, message: str | bytes) -> SpeakEvent | None:
        if isinstance(message, bytes):
            return SpeakEvent(AUDIO, message)
        try:
            body = json.loads(message)
        except ValueError:
            return None
        kind = body.get("type") if isinstance(body, dict) else None
        if kind == "Flushed":
            return SpeakEvent(FLUSHED)
        if kind == "Cleared":
            return SpeakEvent(CLEARED)
        if kind == "Warning":
            return SpeakEvent(WARNING, fields={"code": body.get("code"), "description": body.get("description")})
        return None
