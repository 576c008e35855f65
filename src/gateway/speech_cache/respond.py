"""Serving the cache over HTTP: a hit whole or as a stream, and a live stream kept when it ends whole."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from fastapi.responses import Response, StreamingResponse

from gateway.billing import Charge
from gateway.speech_cache.stage import Lookup

STREAM_CHUNK_BYTES = 16 * 1024
MAX_TEE_BYTES = 16 * 1024 * 1024  # a longer stream is relayed but not kept (the store would refuse it anyway)


def hit_headers(lookup: Lookup, charge: Charge) -> dict[str, str]:
    entry = lookup.entry
    assert entry is not None
    return {
        "X-Provider": entry.provider,  # the vendor that made the audio
        "X-Cost": charge.header(),
        "X-Characters": str(entry.characters),
        "X-Attempts": "0",
        "X-Model": entry.model,
        **({"X-Sample-Rate": str(entry.sample_rate)} if entry.sample_rate else {}),
        **lookup.headers(),
    }


def hit_response(lookup: Lookup, charge: Charge, media_type: str) -> Response:
    assert lookup.entry is not None
    return Response(content=lookup.entry.audio, media_type=media_type, headers=hit_headers(lookup, charge))


async def chunks_of(audio: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(audio), STREAM_CHUNK_BYTES):
        yield audio[start : start + STREAM_CHUNK_BYTES]


def hit_stream(lookup: Lookup, charge: Charge, media_type: str) -> StreamingResponse:
    """A hit on a streaming route: the whole audio at once, in chunks, like a vendor stream that never waits."""
    assert lookup.entry is not None
    return StreamingResponse(chunks_of(lookup.entry.audio), media_type=media_type, headers=hit_headers(lookup, charge))


async def tee_to_cache(
    body: AsyncIterator[bytes], keep: Callable[[bytes], None], whole: Callable[[], bool]
) -> AsyncIterator[bytes]:
    """Relay ``body`` unchanged, and hand everything it sent to ``keep`` only when it ran to its end and ``whole()``
    says the audio is complete and of one vendor and format. A client that goes away (the generator is closed) or an
    error ends the relay without keeping anything: a cut stream is never stored."""
    parts: list[bytes] | None = []
    size = 0
    try:
        async for chunk in body:
            if parts is not None:
                size += len(chunk)
                if size > MAX_TEE_BYTES:
                    parts = None
                else:
                    parts.append(chunk)
            yield chunk
    finally:
        closer = getattr(body, "aclose", None)
        if closer is not None:
            await closer()  # a client gone mid-stream closes the relay now (its billing runs), not at collection
    if parts is not None and whole():
        keep(b"".join(parts))
