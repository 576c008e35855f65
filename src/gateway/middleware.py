"""Request ids and end-of-response callbacks (the ASGI side is ``gateway.asgi.GatewayMiddleware``)."""

from __future__ import annotations

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
        raise RuntimeError("on_response_end needs gateway.asgi.GatewayMiddleware around the app")
    callbacks.append(callback)


def _run_end_callbacks(callbacks: list[Callable[[], None]]) -> None:
    for callback in callbacks:
        try:
            callback()
        except Exception:
            log.exception("end-of-response callback failed")
    callbacks.clear()
