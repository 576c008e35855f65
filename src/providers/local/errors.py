"""Failures inside the local engines, before the provider maps them onto ProviderError classes."""

from __future__ import annotations


class EngineError(RuntimeError):
    """An engine could not load or failed while working (→ ProviderError SERVER)."""


class Cancelled(Exception):
    """The caller stopped waiting (timeout or cancelled request): the engine gave up early."""
