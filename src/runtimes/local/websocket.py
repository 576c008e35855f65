"""``gateway.ports.WebSocketOpener`` on CPython, with the ``websockets`` library's asyncio client.

Close codes reach the core as ``UpstreamClosed``: a connection dropped without a close frame is 1006, as browsers
report it. A refused upgrade is ``HandshakeRejected`` carrying the HTTP status, so the relay can tell 401 from 429.
"""

from __future__ import annotations

from collections.abc import Mapping

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from gateway.ports import UpstreamClosed
from gateway.streaming.upstream import HandshakeRejected

ABNORMAL_CLOSURE = 1006
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


def _closed(exc: ConnectionClosed) -> UpstreamClosed:
    frame = exc.rcvd
    if frame is None:
        return UpstreamClosed(ABNORMAL_CLOSURE, "connection lost without a close frame")
    return UpstreamClosed(frame.code, frame.reason)


class LocalUpstreamWebSocket:
    def __init__(self, connection: ClientConnection) -> None:
        self._connection = connection

    async def send_text(self, data: str) -> None:
        try:
            await self._connection.send(data)
        except ConnectionClosed as exc:
            raise _closed(exc) from None

    async def send_bytes(self, data: bytes) -> None:
        try:
            await self._connection.send(data)
        except ConnectionClosed as exc:
            raise _closed(exc) from None

    async def receive(self) -> str | bytes:
        try:
            return await self._connection.recv()
        except ConnectionClosed as exc:
            raise _closed(exc) from None

    async def close(self, code: int = 1000) -> None:
        await self._connection.close(code)


async def open_websocket(url: str, headers: Mapping[str, str], timeout: float) -> LocalUpstreamWebSocket:
    try:
        connection = await connect(
            url,
            additional_headers=dict(headers),
            open_timeout=timeout,
            ping_interval=None,  # vendors get their own keepalive messages from the relay
            close_timeout=2,
            max_size=MAX_MESSAGE_BYTES,
            compression=None,  # audio does not compress; per-frame deflate only costs latency
            proxy=None,
        )
    except InvalidStatus as exc:
        response = exc.response
        body = response.body.decode("utf-8", "replace")[:300] if response.body else ""
        raise HandshakeRejected(response.status_code, body) from None
    return LocalUpstreamWebSocket(connection)
