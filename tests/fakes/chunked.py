"""A fake vendor's chunked response body, with the harness faults that act on a body already under way.

``cut`` drops the connection after ``fault.after_chunks`` chunks (after all of them if there are fewer); ``slow``
pauses ``fault.delay`` between chunks, as does ``chunk_delay`` without a fault (a stall between body chunks only).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.responses import StreamingResponse

from tests.fakes.harness import CutConnection, Fault

STREAM_CHUNKS = 4


def chunks_of(data: bytes, count: int = STREAM_CHUNKS) -> list[bytes]:
    size = max(1, -(-len(data) // count))
    return [data[i : i + size] for i in range(0, len(data), size)]


def streamed(
    parts: list[bytes],
    media_type: str,
    headers: dict[str, str] | None = None,
    fault: Fault | None = None,
    chunk_delay: float = 0.0,
) -> StreamingResponse:
    pause = fault.delay if fault is not None and fault.kind == "slow" else chunk_delay

    async def body() -> AsyncIterator[bytes]:
        for index, part in enumerate(parts):
            if fault is not None and fault.kind == "cut" and index >= fault.after_chunks:
                raise CutConnection()
            if index and pause:
                await asyncio.sleep(pause)
            yield part
        if fault is not None and fault.kind == "cut":
            raise CutConnection()

    return StreamingResponse(body(), media_type=media_type, headers=headers)
