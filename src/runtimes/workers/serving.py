"""Serving one request of the Worker: HTTP through the SDK's ASGI adapter, WebSocket upgrades answered here.

Two gaps in workers-runtime-sdk 1.9.5 that a deploy would hit (both shown by the edge tier, tests/edge/):

- After-work of a streamed response. For a streamed body ``workers.asgi.fetch`` hands the rest of the app's run to
  ``cloudflare:workers`` ``waitUntil`` as a *borrowed* proxy, which is destroyed before the runtime awaits it
  (cloudflare/workers-py#262): the promise rejects, and whatever the app does after the last chunk (usage rows,
  health reports, the limiter release) runs outside the request's life and is lost. :func:`serve_http` keeps the
  request alive itself: it registers the app's completion with the request's own ``ctx.waitUntil``.
- WebSocket subprotocols. The SDK's ASGI WebSocket path neither puts ``subprotocols`` in the scope nor echoes the one
  the app accepts, so browsers, which can only authenticate with ``Sec-WebSocket-Protocol``, refuse the connection.
  :func:`serve_websocket` does the upgrade itself and answers the 101 with the chosen subprotocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

log = logging.getLogger("gateway.workers.serving")

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


async def serve_http(app: ASGIApp, request: Any, env: Any, ctx: Any) -> Any:
    # The SDK's request half (its ``fetch`` = lifespan + this + the borrowed-proxy waitUntil); the app has no
    # lifespan here (see ``asgi_lifespan``), so nothing else of ``asgi.fetch`` is needed.
    from workers import asgi

    process_request = getattr(asgi, "process_request", None)
    if process_request is None:  # an SDK without it (workerd may bundle another version): its own path
        return await asgi.fetch(app, request, env, ctx)
    response, app_run = await process_request(app, request, env, ctx)
    if not app_run.done():  # a streamed body: the app still runs while the client reads it
        ctx.waitUntil(app_run)  # the request's own (patched) waitUntil takes its own reference to the task
    return response


def _offered(request: Any) -> list[str]:
    header = request.headers.get("sec-websocket-protocol") or ""
    return [p.strip() for p in header.split(",") if p.strip()]


class _Upgrade:
    """One ASGI WebSocket connection over the server end of a ``WebSocketPair``."""

    def __init__(self, server: Any) -> None:
        from pyodide.ffi import create_proxy

        self.server = server
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.queue.put_nowait({"type": "websocket.connect"})
        self.decided: asyncio.Future[tuple[bool, str | None]] = asyncio.get_running_loop().create_future()
        self.closed_by_app = False
        self.closed_by_client = False
        # Owned proxies: JS keeps calling them until the socket closes (a bare function would be borrowed).
        self.listeners = {"message": create_proxy(self._on_message), "close": create_proxy(self._on_close)}
        for event, listener in self.listeners.items():
            server.addEventListener(event, listener)

    def _on_message(self, event: Any) -> None:
        data = event.data
        if isinstance(data, str):
            self.queue.put_nowait({"type": "websocket.receive", "text": data})
        else:
            self.queue.put_nowait({"type": "websocket.receive", "bytes": bytes(data.to_bytes())})

    def _on_close(self, event: Any) -> None:
        self.closed_by_client = True
        self.queue.put_nowait(
            {
                "type": "websocket.disconnect",
                "code": getattr(event, "code", 1005),
                "reason": str(getattr(event, "reason", "") or ""),
            }
        )

    async def receive(self) -> dict[str, Any]:
        return await self.queue.get()

    async def send(self, message: dict[str, Any]) -> None:
        from pyodide.ffi import to_js

        kind = message["type"]
        if kind == "websocket.accept":
            if not self.decided.done():
                self.decided.set_result((True, message.get("subprotocol")))
        elif kind == "websocket.send":
            # ASGI: sending on a closed connection raises an OSError (Starlette turns it into WebSocketDisconnect,
            # as under uvicorn); workerd's own error would be a JS TypeError the app cannot know.
            if self.closed_by_client:
                raise OSError("the client closed the WebSocket")
            try:
                if message.get("bytes") is not None:
                    self.server.send(to_js(bytes(message["bytes"])))
                elif message.get("text") is not None:
                    self.server.send(message["text"])
            except Exception as exc:  # noqa: BLE001 - a JsException: the socket closed under us
                raise OSError(f"WebSocket send failed: {exc}") from None
        elif kind == "websocket.close":
            self.closed_by_app = True
            if not self.decided.done():  # closed before accepting: the upgrade is refused (ASGI: HTTP 403)
                self.decided.set_result((False, None))
            else:
                self.server.close(message.get("code", 1000), message.get("reason") or "")

    def finished(self, task: asyncio.Future[None]) -> None:
        failed = not task.cancelled() and task.exception() is not None
        if failed:
            log.error("websocket handler failed", exc_info=task.exception())
        if not self.decided.done():
            self.decided.set_result((False, None))
        elif not self.closed_by_app:  # the handler ended without closing: do not leave the client hanging
            with contextlib.suppress(Exception):  # the peer may have closed already
                self.server.close(1011 if failed else 1000, "")
        for event, listener in self.listeners.items():
            self.server.removeEventListener(event, listener)
            listener.destroy()


async def serve_websocket(app: ASGIApp, request: Any, env: Any, ctx: Any) -> Any:
    import js
    from pyodide.ffi import to_js
    from workers.asgi import request_to_scope

    client, server = js.WebSocketPair.new().object_values()
    server.accept()
    server.binaryType = "arraybuffer"  # binary frames otherwise arrive as Blobs, unreadable synchronously
    upgrade = _Upgrade(server)
    scope = request_to_scope(request, env, ws=True)
    scope["subprotocols"] = _offered(request)
    task = asyncio.ensure_future(app(scope, upgrade.receive, upgrade.send))
    task.add_done_callback(upgrade.finished)
    ctx.waitUntil(task)  # the session outlives the 101; the request's own waitUntil keeps it alive
    accepted, subprotocol = await upgrade.decided
    if not accepted:
        return js.Response.new("", status=403)
    headers = js.Headers.new(to_js([["Sec-WebSocket-Protocol", subprotocol]] if subprotocol else []))
    return js.Response.new(None, status=101, webSocket=client, headers=headers)
