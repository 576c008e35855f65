"""What a vendor's streaming speech-to-text wire protocol must tell the listen relay.

Implementations live with their vendor (``providers.deepgram.realtime``: Nova and Flux; ``providers.local``: the
built-in recognizer's socket). The relay sends client audio as binary frames and otherwise only what these return.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from providers.realtime.events import Event


@dataclass(frozen=True)
class ListenProtocol:
    name: str
    # True when the vendor reports turns itself (StartOfTurn/EndOfTurn); otherwise the relay derives them from
    # ``speech_final`` results when the session started on a turn-based vendor.
    emits_turns: ClassVar[bool] = False

    def keepalive(self, sample_rate: int, bytes_per_sample: int) -> str | bytes:
        """What keeps an idle connection open: a text message, or audio (silence, which moves the vendor's clock)."""
        raise NotImplementedError

    def close_stream(self) -> str:
        """The text message asking the vendor for its last results and then to close."""
        raise NotImplementedError

    def translate(self, message: dict[str, Any]) -> Sequence[Event]:
        """One vendor JSON message as vendor-neutral events (times relative to this connection's start)."""
        raise NotImplementedError

    def is_last(self, message: dict[str, Any]) -> bool:
        """The vendor's final message after ``close_stream`` (the relay may stop waiting for the close)."""
        return False

    def error_of(self, message: dict[str, Any]) -> str | None:
        """A vendor-reported fatal error inside the stream, as text (the relay fails over on it)."""
        return None
