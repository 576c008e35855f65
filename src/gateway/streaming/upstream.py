"""Opening an upstream WebSocket through the runtime's ``WebSocketOpener`` port, with failures as ``ProviderError``.

Openers report a refused handshake as :class:`HandshakeRejected` (the local one) or a ``ConnectionError`` whose text
names the HTTP status (the Workers one), a slow handshake as ``TimeoutError``. The relay only ever sees
``ProviderError`` so the failover bookkeeping is the same as for HTTP calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Mapping
from typing import Any

from gateway.errors import ErrorClass, ProviderError
from gateway.ports import UpstreamClosed, UpstreamWebSocket, WebSocketOpener
from providers.http import class_for_status

_STATUS_IN_TEXT = re.compile(r"HTTP (\d{3})")


class HandshakeRejected(ConnectionError):
    """The vendor answered the upgrade with an HTTP status instead of 101."""

    def __init__(self, status: int, body: str = "") -> None:
        super().__init__(f"upstream refused the websocket upgrade: HTTP {status}")
        self.status = status
        self.body = body


def handshake_error(provider: str, exc: BaseException) -> ProviderError:
    """Classify a failed open the way ``providers.http`` classifies a failed request."""
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return ProviderError(provider, ErrorClass.TIMEOUT, "timed out opening the vendor websocket")
    status = getattr(exc, "status", None)
    if status is None:
        found = _STATUS_IN_TEXT.search(str(exc))
        status = int(found.group(1)) if found else None
    if isinstance(status, int):
        return ProviderError(
            provider, class_for_status(status), f"websocket handshake refused: HTTP {status}", status=status
        )
    return ProviderError(provider, ErrorClass.CONNECTION, f"websocket connection failed: {type(exc).__name__}")


def closed_error(provider: str, closed: UpstreamClosed) -> ProviderError:
    reason = f" {closed.reason}" if closed.reason else ""
    return ProviderError(provider, ErrorClass.CONNECTION, f"vendor websocket closed ({closed.code}){reason}"[:300])


async def open_upstream(
    opener: WebSocketOpener | None, provider: str, url: str, headers: Mapping[str, str], timeout: float
) -> UpstreamWebSocket:
    if opener is None:
        raise ProviderError(provider, ErrorClass.UNSUPPORTED, "this runtime cannot open upstream websockets")
    try:
        return await asyncio.wait_for(opener(url, headers, timeout), timeout)
    except ProviderError:
        raise
    except Exception as exc:  # noqa: BLE001 - every opener failure is a vendor attempt failure
        raise handshake_error(provider, exc) from None


async def pump(upstream: UpstreamWebSocket, segment: int, queue: asyncio.Queue[tuple[str, int, Any]]) -> None:
    """Feed the relay's queue with one vendor socket's messages, tagged with its segment, then how it closed."""
    try:
        while True:
            await queue.put(("upstream", segment, await upstream.receive()))
    except UpstreamClosed as closed:
        await queue.put(("upstream_closed", segment, closed))
    except Exception as exc:  # noqa: BLE001 - an opener bug must fail over, not kill the session
        await queue.put(("upstream_closed", segment, UpstreamClosed(1006, type(exc).__name__)))


async def stop(
    reader: asyncio.Task[None] | None, upstream: UpstreamWebSocket | None, goodbye: str | None = None
) -> None:
    """Stop reading a vendor socket, then (after an optional last text message) close it, ignoring a dead socket."""
    if reader is not None:
        reader.cancel()
        with contextlib.suppress(BaseException):
            await reader
    if upstream is None:
        return
    if goodbye is not None:
        with contextlib.suppress(Exception):
            await upstream.send_text(goodbye)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(upstream.close(1000), 2)


async def next_message(queue: asyncio.Queue[tuple[str, int, Any]], tick: float) -> tuple[str, int, Any]:
    """A relay's next queued message, or ``("tick", -1, None)`` after ``tick`` seconds of quiet. A backlog (frames
    queued while the relay was sending) is taken without arming a timer for each message: this is per audio frame."""
    with contextlib.suppress(asyncio.QueueEmpty):
        return queue.get_nowait()
    try:
        return await asyncio.wait_for(queue.get(), tick)
    except TimeoutError:
        return "tick", -1, None
