"""Hold the end of each response until the rows its request recorded are committed (see ``gateway.recorder``).

The client sees the end of a response — the last body message (the chunked body's final chunk, or the whole body of
an ordinary response), or a WebSocket's close — only after ``Recorder.durable`` returned for its request id. If the
rows cannot be committed, the response is aborted instead of ended: a client never holds a complete response that
was not recorded. A no-op when the recorder does not hold responses (Workers: write-behind under ``waitUntil``).
"""

from __future__ import annotations

from typing import Any

from gateway.middleware import request_id_of
from gateway.recorder import Recorder


class DurableRowsMiddleware:
    def __init__(self, app: Any, recorder: Recorder) -> None:
        self.app = app
        self.recorder = recorder

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket") or not self.recorder.hold_responses:
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)

        async def send_when_durable(message: dict[str, Any]) -> None:
            kind = message["type"]
            if (kind == "http.response.body" and not message.get("more_body", False)) or kind == "websocket.close":
                await self.recorder.durable(request_id)
            await send(message)

        await self.app(scope, receive, send_when_durable)
