"""Request ids, the error envelope and end-of-response callbacks, as a plain ASGI middleware (no per-request
BaseHTTPMiddleware overhead)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, MutableMapping
from typing import Any

from gateway.ids import new_request_id

log = logging.getLogger("gateway")

Scope = MutableMapping[str, Any]  # what Starlette passes (mypy: a dict is one too)


def request_id_of(scope: Scope) -> str:
    state = scope.setdefault("state", {})
    if "request_id" not in state:
        state["request_id"] = new_request_id()
    return str(state["request_id"])


_ON_END = "on_response_end"


def on_response_end(scope: Scope, callback: Callable[[], None]) -> None:
    """Run ``callback`` when the response has ended: after its last body chunk (streams included), after an error
    response, or when a WebSocket handler returns. Used to release admission tickets."""
    callbacks = scope.get("state", {}).get(_ON_END)
    if callbacks is None:
        raise RuntimeError("on_response_end needs RequestIdMiddleware around the app")
    callbacks.append(callback)


def _run_end_callbacks(callbacks: list[Callable[[], None]]) -> None:
    for callback in callbacks:
        try:
            callback()
        except Exception:
            log.exception("end-of-response callback failed")
    callbacks.clear()


class RequestIdMiddleware:
    """Gives every HTTP request an id (``X-Request-Id`` on every response, ``request_id`` in every error) and turns
    any exception that escapes the app into the JSON envelope instead of a bare 500."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        end_callbacks: list[Callable[[], None]] = []
        scope["state"][_ON_END] = end_callbacks
        header = (b"x-request-id", request_id.encode())
        started = False

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                scope["state"]["response_status"] = message["status"]  # read by end-of-response callbacks
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            _run_end_callbacks(end_callbacks)
            log.exception("unhandled error in request %s", request_id)
            if started or scope["type"] != "http":
                raise
            body = json.dumps(
                {"error": {"type": "internal_error", "message": "internal error", "request_id": request_id}}
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                header],
                }
            )
            await send({"type": "http.response.body", "body": body})
        finally:
            _run_end_callbacks(end_callbacks)  # cancellation (client gone): still release
