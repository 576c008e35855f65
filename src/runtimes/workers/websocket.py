"""``gateway.ports.WebSocketOpener`` on Workers: an outbound WebSocket opened with ``fetch``.

Workers cannot open sockets, and ``new WebSocket(url)`` cannot send headers (vendors want ``Authorization``; AI Gateway
wants ``cf-aig-authorization``). The supported way is ``fetch(https_url, headers={"Upgrade": "websocket", ...})``:
the 101 response carries the client end in ``response.webSocket``, which must be ``accept()``-ed. JS events are
bridged onto an ``asyncio.Queue`` so the core can ``await receive()``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from gateway.ports import UpstreamClosed

from .convert import is_null

ABNORMAL_CLOSURE = 1006  # the close code the WebSocket spec reserves for "closed without a close frame"


def _fetchable_url(url: str) -> str:
    """fetch only speaks http(s); the upgrade header is what makes it a WebSocket."""
    if url.startswith("wss://"):
        return "https://" + url[len("wss://") :]
    if url.startswith("ws://"):
        return "http://" + url[len("ws://") :]
    return url


class WorkersUpstreamWebSocket:
    def __init__(self, socket: Any) -> None:
        from pyodide.ffi import create_proxy

        self._socket = socket
        self._loop = asyncio.get_running_loop()  # JS event callbacks run outside any running-loop context
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._closed: UpstreamClosed | None = None
        socket.accept()
        socket.binaryType = "arraybuffer"  # otherwise binary frames arrive as Blobs, unreadable synchronously
        # Proxies keep the Python callables alive while JS holds them; they are released when the socket closes.
        self._listeners = {
            "message": create_proxy(self._on_message),
            "close": create_proxy(self._on_close),
            "error": create_proxy(self._on_error),
        }
        for event, listener in self._listeners.items():
            socket.addEventListener(event, listener)

    def _on_message(self, event: Any) -> None:
        data = event.data
        self._queue.put_nowait(data if isinstance(data, str) else bytes(data.to_bytes()))

    def _on_close(self, event: Any) -> None:
        self._finish(UpstreamClosed(getattr(event, "code", None), str(getattr(event, "reason", "") or "")))

    def _on_error(self, event: Any) -> None:
        self._finish(UpstreamClosed(ABNORMAL_CLOSURE, "websocket error"))

    def _finish(self, closed: UpstreamClosed) -> None:
        if self._closed is None:
            self._closed = closed
            self._queue.put_nowait(closed)
            # Not from inside the JS callback that is running right now: release the proxies on the next tick.
            self._loop.call_soon(self._detach)

    def _detach(self) -> None:
        listeners, self._listeners = self._listeners, {}
        for event, listener in listeners.items():
            try:
                self._socket.removeEventListener(event, listener)
            finally:
                listener.destroy()

    async def send_text(self, data: str) -> None:
        self._raise_if_closed()
        self._socket.send(data)

    async def send_bytes(self, data: bytes) -> None:
        from pyodide.ffi import to_js

        self._raise_if_closed()
        self._socket.send(to_js(bytes(data)))  # a Uint8Array copy: send() may read the buffer after we return

    async def receive(self) -> str | bytes:
        item = await self._queue.get()
        if isinstance(item, UpstreamClosed):
            self._queue.put_nowait(item)  # every later receive() sees the close too
            raise item
        return item

    async def close(self, code: int = 1000) -> None:
        if self._closed is not None:
            return
        try:
            self._socket.close(code, "")
        finally:
            self._finish(UpstreamClosed(code, "closed by the gateway"))

    def _raise_if_closed(self) -> None:
        if self._closed is not None:
            raise self._closed


async def open_websocket(url: str, headers: Mapping[str, str], timeout: float) -> WorkersUpstreamWebSocket:
    """Raises ``TimeoutError`` when the handshake does not finish in time, ``ConnectionError`` when it is refused."""
    from workers import fetch

    upgrade_headers = {**dict(headers), "Upgrade": "websocket"}
    try:
        response = await asyncio.wait_for(fetch(_fetchable_url(url), headers=upgrade_headers), timeout)
    except TimeoutError:
        raise TimeoutError("timed out opening the upstream websocket") from None
    except Exception as exc:  # noqa: BLE001 - pyfetch raises OSError, the runtime JsException
        raise ConnectionError(f"upstream websocket failed: {type(exc).__name__}") from None
    socket = getattr(response.js_object, "webSocket", None)
    if response.status != 101 or is_null(socket):
        raise ConnectionError(f"upstream refused the websocket upgrade: HTTP {response.status}")
    return WorkersUpstreamWebSocket(socket)
