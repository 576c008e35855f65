"""Everything the gateway does around every request, as ONE plain ASGI middleware (each wrapper layer costs a
coroutine and a ``send`` closure per message, so the four concerns share one):

- a request id on every response (``X-Request-Id``) and in every error; an exception that escapes the app becomes the
  JSON envelope instead of a bare 500; end-of-response callbacks (admission release) run when the response ends;
- request metrics by route template and status (``gateway.metrics``);
- one request-log row and stdout line per API request or WebSocket session (``gateway.request_log.RequestLog``);
- the end of a response is held until the rows its request recorded are durable (``gateway.recorder``; a no-op
  when the recorder does not hold responses — Workers: write-behind under ``waitUntil``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from gateway.middleware import _ON_END, _run_end_callbacks, log, request_id_of
from gateway.request_log import ERROR_BODY_BYTES, UNLOGGED_PATHS, UNLOGGED_PREFIXES, RequestLog, _error_of, trace_of

Scope = dict[str, Any]


class GatewayMiddleware:
    """Around FastAPI's stack (``app``) — and, through :meth:`handle`, around the routes the app calls directly
    (``gateway.direct_routes``), sharing one ``request_log``."""

    def __init__(self, app: Any, gateway: Any, request_log: RequestLog | None = None) -> None:
        self.app = app
        self.metrics = gateway.metrics
        self.recorder = gateway.recorder
        self.request_log = request_log or RequestLog(gateway)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        await self.handle(self.app, scope, receive, send)

    async def handle(self, app: Any, scope: Scope, receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        state = scope["state"]
        end_callbacks: list[Callable[[], None]] = []
        state[_ON_END] = end_callbacks
        header = (b"x-request-id", request_id.encode())
        path = scope["path"]
        logged = path not in UNLOGGED_PATHS and not path.startswith(UNLOGGED_PREFIXES)
        trace = trace_of(scope) if logged else None
        created_ms = int(self.request_log.clock.time() * 1000) if logged else 0
        hold = self.recorder.hold_responses
        recorder = self.recorder
        started = time.perf_counter()
        first_byte: float | None = None
        status = 500 if kind == "http" else 403  # a socket closed before accept is refused with 403
        response_started = False
        error_body: list[bytes] = []
        error_class: str | None = None
        log_written = False

        def write_log() -> None:
            """The request-log row; written as the response's last message passes, so it is durable with the usage
            rows (the durable wait below covers it), or at the end when the app failed or a socket just went."""
            nonlocal log_written, error_class
            assert trace is not None
            log_written = True
            if error_body and error_class is None:
                error_class, attempts = _error_of(b"".join(error_body))
                if attempts:
                    trace.attempts = len(attempts)
                    trace.vendor = trace.vendor or str(attempts[-1].get("provider") or "") or None
            if error_class is None and status >= 400:
                error_class = "internal_error" if status >= 500 else "http_" + str(status)
            self.request_log.finish(scope, kind, trace, created_ms, status, time.perf_counter() - started,
                                    first_byte and first_byte - started, error_class)  # fmt: skip

        async def send_(message: dict[str, Any]) -> None:
            nonlocal status, first_byte, error_class, response_started
            kind_of = message["type"]
            if kind_of == "http.response.body":
                if trace is not None:
                    if first_byte is None and message.get("body"):
                        first_byte = time.perf_counter()
                    if status >= 400 and sum(map(len, error_body)) < ERROR_BODY_BYTES:
                        error_body.append(message.get("body", b""))
                if not message.get("more_body", False):
                    if trace is not None and not log_written:
                        write_log()
                    if hold:
                        await recorder.durable(request_id)
            elif kind_of == "http.response.start":
                response_started = True
                status = int(message["status"])
                state["response_status"] = status  # read by end-of-response callbacks
                headers = message.get("headers", [])
                if trace is not None:
                    for name, value in headers:  # the routes name who answered, after how many tries
                        if name == b"x-provider":
                            trace.vendor = value.decode("latin-1")
                        elif name == b"x-attempts" and value.isdigit():
                            trace.attempts = int(value)
                message["headers"] = [*headers, header]
            elif kind_of == "websocket.send":
                response_started = True
                if trace is not None:
                    if first_byte is None:
                        first_byte = time.perf_counter()
                    text = message.get("text")
                    if text is not None and text.startswith('{"type": "error"'):
                        error_class = _error_of(text.encode())[0]
            elif kind_of == "websocket.accept":
                response_started = True
                status = 101
            elif kind_of == "websocket.close":
                code = int(message.get("code", 1000))
                if 4000 <= code < 5000:
                    status = code - 4000  # the session's error as its HTTP status (see api/realtime.py)
                if trace is not None and not log_written:
                    write_log()
                if hold:
                    await recorder.durable(request_id)
            await send(message)

        try:
            try:
                await app(scope, receive, send_)
            finally:
                seconds = time.perf_counter() - started
                if kind == "http":
                    route = getattr(scope.get("route"), "path", None) or "unmatched"
                    self.metrics.request(scope.get("method", ""), route, status, seconds)
                if trace is not None and not log_written:
                    write_log()
        except Exception:
            _run_end_callbacks(end_callbacks)
            log.exception("unhandled error in request %s", request_id)
            if response_started or kind != "http":
                raise
            body = json.dumps(
                {"error": {"type": "internal_error", "message": "internal error", "request_id": request_id}}
            ).encode()
            await send({
                "type": "http.response.start", "status": 500,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            header],
            })  # fmt: skip
            await send({"type": "http.response.body", "body": body})
        finally:
            _run_end_callbacks(end_callbacks)  # cancellation (client gone): still release
