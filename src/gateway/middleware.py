"""Request ids and the error envelope, as a plain ASGI middleware (no per-request BaseHTTPMiddleware overhead)."""

from __future__ import annotations

import json
import logging
from typing import Any

from gateway.ids import new_request_id

log = logging.getLogger("gateway")

Scope = dict[str, Any]


def request_id_of(scope: Scope) -> str:
    state = scope.setdefault("state", {})
    if "request_id" not in state:
        state["request_id"] = new_request_id()
    return str(state["request_id"])


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
        header = (b"x-request-id", request_id.encode())
        started = False

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
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
