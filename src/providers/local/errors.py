"""Failures inside the local engines and decoders, before the provider maps them onto ProviderError classes."""

from __future__ import annotations


class EngineError(RuntimeError):
    """An engine could not load or failed while working (→ ProviderError SERVER)."""


class Cancelled(Exception):
    """The caller stopped waiting (timeout or cancelled request): the engine gave up early."""


class BadAudio(ValueError):
    """The bytes are not audio we can decode (→ ProviderError INVALID_INPUT)."""


class UnsupportedAudio(BadAudio):
    """Real audio in a container/codec no installed decoder reads: WebM, MP4, Ogg Opus (→ UNSUPPORTED)."""
