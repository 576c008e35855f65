"""Drain a vendor stream that must fail, keeping what arrived before the failure (shared by the TTS adapter tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway.errors import ProviderError


async def stream_failure(chunks: AsyncIterator[bytes]) -> tuple[pytest.ExceptionInfo[ProviderError], list[bytes]]:
    """(the ProviderError raised, the chunks received before it); fails the test if the stream ends cleanly."""
    received: list[bytes] = []
    with pytest.raises(ProviderError) as caught:
        async for chunk in chunks:
            received.append(chunk)
    return caught, received
