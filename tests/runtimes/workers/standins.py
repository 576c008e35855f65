"""CPython stand-ins for ``js``, ``pyodide``/``pyodide.ffi`` and ``workers`` (workers-runtime-sdk 1.9.5).

``import workers`` fails outside Pyodide, so these reproduce the shapes the external SDK hands to user code with the
``python_workers`` flag, as read from the SDK source:

- ``workers.fetch(url, **options)`` is pyodide's ``pyfetch``: options become a JS ``RequestInit``; failures surface
  as ``OSError(message)``; the result is a ``workers.Response`` with ``status``, ``status_text``, ``headers``
  (an ``http.client.HTTPMessage`` mapping), ``body`` (a JS ``ReadableStream`` or None) and ``js_object``.
- A ``ReadableStream`` is async-iterable; chunks are ``Uint8Array`` proxies with ``to_bytes()``.
- Bindings come through ``_BindingWrapper``: arguments go through ``python_to_rpc`` (keyword arguments become the
  trailing options object, ``None`` → null, bytes → ``Uint8Array``) and results through ``python_from_rpc``
  (``JsDict`` objects, ``None`` for null). D1 ``.all()`` → ``{"success", "meta", "results"}``, BLOBs as arrays of
  byte values; KV ``put(key, value, expirationTtl=...)`` (≥ 60 s), ``list`` pages with ``cursor``/``list_complete``.
- ``env.X.getByName(name)`` returns an RPC stub; arguments and results are structured-cloned (copied).
- ``WebSocket``: ``accept()``, ``binaryType``, ``addEventListener`` (listeners must be ``create_proxy`` proxies:
  a bare function would be a borrowed proxy destroyed after its first call), ``send``/``close``.
- ``workers.asgi`` is not stood in (see ``AsgiNotStoodIn``): the edge tier runs the real one.
- A Durable Object stub belongs to the request (``ctx``) that made it and throws when another request uses it.

Everything the code under test does is recorded, so tests assert on what crossed the boundary.
"""

from __future__ import annotations

import asyncio
import copy
import http.client
import json
import sqlite3
import sys
import types
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# ---------------------------------------------------------------------------------------------------- pyodide.ffi


class JsException(Exception):
    def __init__(self, name: str = "Error", message: str = "") -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


class _JsNull:
    _instance: _JsNull | None = None

    def __new__(cls) -> _JsNull:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "jsnull"


jsnull = _JsNull()


class _Constructor:
    def __init__(self, name: str) -> None:
        self.name = name


class JsProxy:
    """Base of every JS object seen from Python."""

    js_type = "Object"

    @property
    def constructor(self) -> _Constructor:
        return _Constructor(self.js_type)

    def to_py(self) -> Any:
        return self


class JsObject(JsProxy):
    """A plain JS object/array, as a raw (unwrapped) binding returns it: ``to_py()`` gives dicts and lists."""

    def __init__(self, value: Any) -> None:
        self._value = value

    def to_py(self) -> Any:
        def convert(v: Any) -> Any:
            if v is None:
                return jsnull
            if isinstance(v, dict):
                return {k: convert(x) for k, x in v.items()}
            if isinstance(v, list):
                return [convert(x) for x in v]
            return v

        return convert(self._value)


class Uint8Array(JsProxy):
    js_type = "Uint8Array"

    def __init__(self, data: bytes) -> None:
        self._data = bytes(data)

    def to_bytes(self) -> bytes:
        return self._data

    def to_py(self) -> memoryview:
        return memoryview(self._data)


class ArrayBuffer(Uint8Array):
    js_type = "ArrayBuffer"


class PyProxy:
    """What ``create_proxy`` returns: callable from JS until destroyed."""

    def __init__(self, obj: Any) -> None:
        self._obj = obj
        self.destroyed = False

    def __call__(self, *args: Any) -> Any:
        if self.destroyed:
            raise JsException(
                "Error", "This borrowed proxy was automatically destroyed / Object has already been destroyed"
            )
        return self._obj(*args)

    def destroy(self) -> None:
        if self.destroyed:
            raise JsException("Error", "Object has already been destroyed")
        self.destroyed = True


def create_proxy(obj: Any, **_: Any) -> PyProxy:
    return PyProxy(obj)


def to_js(value: Any, **_: Any) -> Any:
    """Buffers are copied into a ``Uint8Array``; other values pass through (the stand-ins accept Python values)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return Uint8Array(bytes(value))
    return value


def _rpc_in(value: Any) -> Any:
    """``python_to_rpc``: None → null, buffers → Uint8Array, containers copied (structured clone)."""
    if value is None or value is jsnull:
        return None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return Uint8Array(bytes(value))
    if isinstance(value, dict):
        return {str(k): _rpc_in(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if isinstance(value, tuple):
            raise TypeError("<class 'tuple'> cannot be sent over RPC.")
        return [_rpc_in(v) for v in value]
    if isinstance(value, (str, int, float, bool, JsProxy, _Binding)):
        return value
    raise TypeError(f"{type(value).__name__} cannot be sent over RPC.")


class JsDict(dict):
    """The SDK's ``python_from_rpc`` result for JS objects: a dict with attribute access."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _rpc_out(value: Any) -> Any:
    """``python_from_rpc``: JsDict for objects, None for null, lists for arrays."""
    if value is None or value is jsnull:
        return None
    if isinstance(value, dict):
        return JsDict({k: _rpc_out(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_rpc_out(v) for v in value]
    return value


class _Binding:
    """Marker for bindings that may be passed back into other binding calls (e.g. prepared statements in batch)."""


# ---------------------------------------------------------------------------------------------------- js


class AbortSignal(JsProxy):
    js_type = "AbortSignal"

    def __init__(self) -> None:
        self.aborted = False
        self.waiters: list[asyncio.Event] = []


class AbortController(JsProxy):
    js_type = "AbortController"

    def __init__(self) -> None:
        self.signal = AbortSignal()

    @classmethod
    def new(cls) -> AbortController:
        return cls()

    def abort(self, reason: Any = None) -> None:
        self.signal.aborted = True
        for event in self.signal.waiters:
            event.set()


class ReadableStream(JsProxy):
    """Async-iterable over ``Uint8Array`` chunks produced by ``source`` (an async iterator of bytes)."""

    js_type = "ReadableStream"

    def __init__(self, source: Any, signal: AbortSignal | None = None) -> None:
        self._source = source
        self._signal = signal
        self.locked = False
        self.cancelled = False

    def __aiter__(self) -> _StreamIterator:
        if self.locked:
            raise JsException("TypeError", "This ReadableStream is currently locked to a reader.")
        self.locked = True
        return _StreamIterator(self)


class _StreamIterator:
    def __init__(self, stream: ReadableStream) -> None:
        self._stream = stream

    async def __anext__(self) -> Uint8Array:
        signal = self._stream._signal
        if signal is not None and signal.aborted:
            await self._cancel()
            raise JsException("AbortError", "The operation was aborted")
        next_chunk = asyncio.ensure_future(anext(self._stream._source))
        if signal is None:
            chunk = await next_chunk
        else:
            aborted = asyncio.Event()
            signal.waiters.append(aborted)
            abort_wait = asyncio.ensure_future(aborted.wait())
            done, _ = await asyncio.wait({next_chunk, abort_wait}, return_when=asyncio.FIRST_COMPLETED)
            signal.waiters.remove(aborted)
            abort_wait.cancel()
            if next_chunk not in done:
                next_chunk.cancel()
                await asyncio.gather(next_chunk, return_exceptions=True)
                await self._cancel()
                raise JsException("AbortError", "The operation was aborted")
            chunk = next_chunk.result()  # raises StopAsyncIteration at the end, or the source's error
        return Uint8Array(chunk)

    async def _cancel(self) -> None:
        """What aborting the fetch does to its body: the stream errors and the source is released."""
        self._stream.cancelled = True
        aclose = getattr(self._stream._source, "aclose", None)
        if aclose is not None:
            await aclose()


async def _chunks_of(*chunks: bytes) -> Any:
    for chunk in chunks:
        yield chunk


class JsHeaders(JsProxy):
    js_type = "Headers"

    def __init__(self, init: Any = None) -> None:
        self._pairs: list[tuple[str, str]] = []
        items = init.items() if isinstance(init, Mapping) else (init or [])
        for name, value in items:
            self._pairs.append((str(name).lower(), str(value)))

    def get(self, name: str) -> str | None:
        values = [v for k, v in self._pairs if k == name.lower()]
        return ", ".join(values) if values else None

    def __iter__(self) -> Any:
        return iter(self._pairs)


@dataclass
class JsResponse(JsProxy):
    """A JS ``Response`` (what ``fetch`` resolves to and what handlers return)."""

    status: int = 200
    headers: JsHeaders = field(default_factory=JsHeaders)
    body: Any = jsnull
    statusText: str = ""
    webSocket: Any = jsnull
    url: str = ""
    js_type = "Response"


# ---------------------------------------------------------------------------------------------------- workers


class HTTPMessageMapping(http.client.HTTPMessage, Mapping):  # type: ignore[misc]
    pass


class Response:
    """``workers.Response`` / ``FetchResponse`` wrapping a JS response."""

    def __init__(self, js_response: JsResponse) -> None:
        self.js_response = js_response

    @property
    def js_object(self) -> JsResponse:
        return self.js_response

    @property
    def status(self) -> int:
        return self.js_response.status

    @property
    def status_text(self) -> str:
        return self.js_response.statusText

    @property
    def body(self) -> Any:
        body = self.js_response.body
        return None if body is jsnull else body

    @property
    def headers(self) -> HTTPMessageMapping:
        result = HTTPMessageMapping()
        for key, value in self.js_response.headers:
            result[key] = value.strip()
        return result

    async def bytes(self) -> bytes:
        if self.body is None:
            return b""
        return b"".join([c.to_bytes() async for c in self.body])


@dataclass
class SentRequest:
    """One outbound ``fetch`` as JS saw it."""

    url: str
    method: str
    headers: list[tuple[str, str]]
    body: bytes | None
    options: dict[str, Any]


Handler = Callable[[SentRequest], Awaitable[JsResponse]]


class Network:
    """Where the stand-in ``fetch`` goes: tests set ``handler``; every request is recorded."""

    def __init__(self) -> None:
        self.sent: list[SentRequest] = []
        self.handler: Handler | None = None

    async def fetch(self, resource: Any, **options: Any) -> Response:
        method = options.get("method", "GET")
        if not isinstance(method, str):
            raise TypeError("method must be a string by the time it reaches JS")
        raw_headers = options.get("headers") or []
        headers = JsHeaders(raw_headers if isinstance(raw_headers, Mapping) else [tuple(p) for p in raw_headers])
        body = options.get("body")
        if body is not None and method.upper() in ("GET", "HEAD"):
            raise OSError(
                "Request with a GET or HEAD method cannot have a body."
            )  # pyfetch turns TypeError into OSError
        if isinstance(body, JsProxy):
            body = body.to_bytes()
        elif isinstance(body, str):
            body = body.encode()
        elif body is not None and not isinstance(body, bytes):
            raise OSError(f"Failed to construct 'Request': unsupported body {type(body).__name__}")
        request = SentRequest(str(resource), method.upper(), list(headers), body, dict(options))
        self.sent.append(request)
        if self.handler is None:
            raise OSError("Network connection lost.")
        try:
            js_response = await self.handler(request)
        except JsException as exc:
            raise OSError(exc.message) from None  # what pyfetch does with a rejected fetch
        return Response(js_response)


def forward_to(client: Any) -> Handler:
    """A ``Network.handler`` that performs the request for real (an ``httpx.AsyncClient`` on CPython sockets), so
    tests reach loopback servers. Like workerd's fetch, gzip/deflate/br bodies arrive decoded while the
    ``Content-Encoding`` header stays; aborting the request's signal errors the body stream."""

    import httpx

    async def handler(request: SentRequest) -> JsResponse:
        built = client.build_request(request.method, request.url, headers=request.headers, content=request.body)
        try:
            upstream = await client.send(built, stream=True)
        except httpx.HTTPError as exc:
            raise JsException(
                "TypeError", f"Network connection lost. ({type(exc).__name__} for {request.url})"
            ) from None

        async def body() -> Any:
            try:
                async for chunk in upstream.aiter_bytes():
                    yield chunk
            except httpx.HTTPError as exc:
                raise JsException("Error", f"Network connection lost. ({type(exc).__name__})") from None
            finally:
                await upstream.aclose()

        return JsResponse(
            status=upstream.status_code,
            headers=JsHeaders(upstream.headers.multi_items()),
            body=ReadableStream(body(), request.options.get("signal")),
            statusText=upstream.reason_phrase,
            url=request.url,
        )

    return handler


class ExecutionContext:
    def __init__(self) -> None:
        self.waited: list[Any] = []

    def waitUntil(self, awaitable: Any) -> None:
        if not hasattr(awaitable, "__await__"):
            raise TypeError("waitUntil needs a promise (a Python awaitable converts to one)")
        self.waited.append(awaitable)


class WorkerEntrypoint:
    def __init__(self, ctx: Any, env: Any) -> None:
        self.ctx = ctx
        self.env = env


class DurableObject:
    def __init__(self, ctx: Any, env: Any) -> None:
        self.ctx = ctx
        self.env = env


class JsWebSocket(JsProxy):
    js_type = "WebSocket"

    def __init__(self) -> None:
        self.accepted = False
        self.binaryType = "blob"
        self.listeners: dict[str, list[PyProxy]] = {}
        self.sent: list[str | bytes] = []
        self.closed: tuple[int, str] | None = None

    def accept(self) -> None:
        self.accepted = True

    def addEventListener(self, event: str, listener: Any) -> None:
        if not isinstance(listener, PyProxy):
            raise JsException("Error", "a bare Python function becomes a borrowed proxy, destroyed after one call")
        self.listeners.setdefault(event, []).append(listener)

    def removeEventListener(self, event: str, listener: Any) -> None:
        if listener in self.listeners.get(event, []):
            self.listeners[event].remove(listener)

    def send(self, data: Any) -> None:
        if not self.accepted:
            raise JsException("TypeError", "You must call accept() on this WebSocket before sending messages.")
        if self.closed is not None:
            raise JsException("TypeError", "Can't call WebSocket send() after close().")
        if isinstance(data, str):
            self.sent.append(data)
        elif isinstance(data, Uint8Array):
            self.sent.append(data.to_bytes())
        else:
            raise JsException("TypeError", f"WebSocket send() cannot send a {type(data).__name__}")

    def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = (code, reason)

    # --- the vendor's side
    def _dispatch(self, event: str, payload: Any) -> None:
        for listener in list(self.listeners.get(event, [])):
            listener(payload)

    def peer_sends(self, data: str | bytes) -> None:
        if isinstance(data, bytes):
            payload: Any = ArrayBuffer(data) if self.binaryType == "arraybuffer" else JsProxy()  # a Blob otherwise
        else:
            payload = data
        self._dispatch("message", types.SimpleNamespace(data=payload))

    def peer_closes(self, code: int, reason: str = "") -> None:
        self._dispatch("close", types.SimpleNamespace(code=code, reason=reason, wasClean=True))

    def peer_errors(self) -> None:
        self._dispatch("error", types.SimpleNamespace(message="boom"))


# ---------------------------------------------------------------------------------------------------- bindings


def _js_options(positional: Mapping[str, Any] | None, keywords: Mapping[str, Any]) -> dict[str, Any]:
    """Pyodide passes Python keyword arguments to a JS function as one trailing options object."""
    return {**(positional or {}), **keywords}


class D1Error(JsException):
    def __init__(self, message: str) -> None:
        super().__init__("Error", message)


def _d1_param(value: Any) -> Any:
    value = _rpc_in(value)
    if value is None or isinstance(value, (str, int, float)):  # bool is an int: D1 stores true/false as 1/0
        return int(value) if isinstance(value, bool) else value
    if isinstance(value, Uint8Array):
        return value.to_bytes()
    raise D1Error(f"D1_TYPE_ERROR: Type '{type(value).__name__}' not supported for value '{value}'")


def _d1_cell(value: Any) -> Any:
    return list(value) if isinstance(value, bytes) else value  # D1 returns BLOBs as arrays of numbers


class D1Statement(_Binding):
    def __init__(self, db: D1Database, sql: str, params: tuple[Any, ...] = ()) -> None:
        self._db = db
        self.sql = sql
        self.params = params

    def bind(self, *values: Any) -> D1Statement:
        return D1Statement(self._db, self.sql, tuple(_d1_param(v) for v in values))

    def _execute(self) -> dict[str, Any]:
        conn = self._db.conn
        before = conn.total_changes
        try:
            cursor = conn.execute(self.sql, self.params)
            rows = cursor.fetchall()
        except sqlite3.Error as exc:
            raise D1Error(f"D1_ERROR: {exc}: SQLITE_ERROR") from None
        columns = [d[0] for d in cursor.description or []]
        writes = conn.total_changes - before
        return {
            "success": True,
            "results": [{c: _d1_cell(v) for c, v in zip(columns, row)} for row in rows],
            "meta": {
                "changes": writes,
                "last_row_id": cursor.lastrowid or 0,
                "rows_read": len(rows),
                "rows_written": writes,
                "changed_db": writes > 0,
                "duration": 0.1,
            },
        }

    def _out(self, value: Any) -> Any:
        self._db.calls.append((self.sql, self.params))
        return JsObject(value) if self._db.raw else _rpc_out(value)

    async def all(self) -> Any:
        return self._out(self._execute())

    async def first(self, column: str | None = None) -> Any:
        rows = self._execute()["results"]
        row = rows[0] if rows else None
        return self._out(row if column is None or row is None else row[column])

    async def run(self) -> Any:
        return self._out(self._execute())


class D1Database(_Binding):
    """A D1 binding whose SQL really runs, on stdlib sqlite3 (D1 is SQLite). ``raw`` returns unconverted proxies."""

    def __init__(self, conn: sqlite3.Connection, raw: bool = False) -> None:
        conn.isolation_level = None  # autocommit, like D1; batch opens its own transaction
        self.conn = conn
        self.raw = raw
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def prepare(self, sql: str) -> D1Statement:
        return D1Statement(self, sql)

    async def batch(self, statements: list[D1Statement]) -> Any:
        if not all(isinstance(s, D1Statement) for s in statements):
            raise D1Error("D1_TYPE_ERROR: batch() takes prepared statements")
        self.conn.execute("BEGIN")
        try:
            results = [s._execute() for s in statements]
        except Exception:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
        self.calls.append(("BATCH", tuple(s.sql for s in statements)))
        return [JsObject(r) for r in results] if self.raw else _rpc_out(results)


class KVNamespace(_Binding):
    def __init__(self, page_size: int = 1000) -> None:
        self.data: dict[str, str] = {}
        self.ttls: dict[str, int] = {}
        self.page_size = page_size
        self.list_calls: list[dict[str, Any]] = []

    async def get(self, key: str, options: Any = None) -> Any:
        return self.data.get(key)

    async def put(self, key: str, value: Any, options: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        opts = _js_options(options, kwargs)
        ttl = opts.get("expirationTtl")
        if ttl is not None and ttl < 60:
            raise JsException(
                "Error", f"KV PUT failed: 400 Invalid expiration_ttl of {ttl}. Expiration TTL must be at least 60."
            )
        if not isinstance(value, str):
            raise JsException(
                "TypeError", "KV put() accepts only strings, ArrayBuffers, ArrayBufferViews, and ReadableStreams"
            )
        self.data[key] = value
        if ttl is not None:
            self.ttls[key] = ttl

    async def delete(self, key: str) -> None:
        self.data.pop(key, None)

    async def list(self, options: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        opts = _js_options(options, kwargs)
        self.list_calls.append(opts)
        names = sorted(k for k in self.data if k.startswith(opts.get("prefix", "")))
        start = int(opts["cursor"]) if opts.get("cursor") else 0
        page = names[start : start + self.page_size]
        complete = start + self.page_size >= len(names)
        result: dict[str, Any] = {"keys": [{"name": n} for n in page], "list_complete": complete, "cacheStatus": None}
        if not complete:
            result["cursor"] = str(start + self.page_size)
        return _rpc_out(result)


class DurableObjectStorage(_Binding):
    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.alarm: float | None = None
        self.alarm_history: list[float] = []

    async def get(self, key: str) -> Any:
        return _rpc_out(copy.deepcopy(self.data.get(key)))

    async def put(self, key: str, value: Any) -> None:
        self.data[key] = copy.deepcopy(_rpc_in(value))

    async def getAlarm(self) -> Any:
        return self.alarm

    async def setAlarm(self, when: float) -> None:
        if not isinstance(when, (int, float)):
            raise JsException("TypeError", "setAlarm() takes epoch milliseconds or a Date")
        self.alarm = when
        self.alarm_history.append(when)

    async def deleteAlarm(self) -> None:
        self.alarm = None


class DurableObjectState:
    def __init__(self) -> None:
        self.storage = DurableObjectStorage()


class RpcStub(_Binding):
    """A Durable Object stub: every method call is RPC, arguments and results structured-cloned.

    It belongs to the request that made it (the ``ctx`` that ``entry.Default.fetch`` made current): used from another
    request it throws, as workerd does (the edge tier enforces the same rule under the real SDK)."""

    def __init__(self, target: Any, calls: list[tuple[str, tuple[Any, ...]]]) -> None:
        from runtimes.workers.tasks import current_ctx

        self._target = target
        self._calls = calls
        self._owner = current_ctx.get()

    def __getattr__(self, method: str) -> Callable[..., Awaitable[Any]]:
        async def call(*args: Any) -> Any:
            from runtimes.workers.tasks import current_ctx

            if current_ctx.get() is not self._owner:
                raise JsException("Error", "Cannot perform I/O on behalf of a different request.")
            sent = tuple(json.loads(json.dumps(_rpc_in(a))) for a in args)  # a real copy, as across isolates
            self._calls.append((method, sent))
            result = await getattr(self._target, method)(*sent)
            return _rpc_out(json.loads(json.dumps(_rpc_in(result))))

        return call


class DurableObjectNamespace(_Binding):
    """Creates one object per name, like the runtime: ``cls(ctx, env)`` on first use."""

    def __init__(self, factory: Callable[[DurableObjectState], Any]) -> None:
        self._factory = factory
        self.objects: dict[str, Any] = {}
        self.states: dict[str, DurableObjectState] = {}
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def getByName(self, name: str) -> RpcStub:
        if name not in self.objects:
            self.states[name] = DurableObjectState()
            self.objects[name] = self._factory(self.states[name])
        return RpcStub(self.objects[name], self.calls)


# ---------------------------------------------------------------------------------------------------- workers.asgi


class IncomingRequest:
    """``workers.Request`` as a handler receives it."""

    def __init__(self, method: str, url: str, headers: Mapping[str, str] | None = None, body: bytes = b"") -> None:
        self.method = method
        self.url = url
        self.js_object = JsProxy()
        self.headers = HTTPMessageMapping()
        for key, value in (headers or {}).items():
            self.headers[key] = value
        self.body = ReadableStream(_chunks_of(body)) if body else None


class AsgiNotStoodIn:
    """``workers.asgi`` is deliberately NOT stood in. A stand-in would serve requests the way we believe the SDK does
    (the old one buffered every body and echoed nothing, so it could not show that the SDK drops WebSocket
    subprotocols or loses a streamed response's after-work). Serving through the real SDK is proven by the edge tier
    (tests/edge/); here every call records itself and fails."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)

        def refuse(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            raise NotImplementedError(f"workers.asgi.{name} is not stood in: serving is proven by tests/edge/")

        return refuse


# ---------------------------------------------------------------------------------------------------- install


class Env:
    """A Worker ``env``: bindings and string vars as attributes; unset names raise AttributeError (undefined)."""

    def __init__(self, **bindings: Any) -> None:
        self.__dict__.update(bindings)


@dataclass
class StandIns:
    network: Network
    asgi: AsgiNotStoodIn
    modules: dict[str, types.ModuleType]


def build() -> StandIns:
    network = Network()
    asgi = AsgiNotStoodIn()

    pyodide = types.ModuleType("pyodide")
    pyodide.__version__ = "0.28.2"  # type: ignore[attr-defined]
    ffi = types.ModuleType("pyodide.ffi")
    for name, value in {
        "JsException": JsException,
        "JsProxy": JsProxy,
        "create_proxy": create_proxy,
        "to_js": to_js,
        "jsnull": jsnull,
    }.items():
        setattr(ffi, name, value)
    pyodide.ffi = ffi  # type: ignore[attr-defined]

    js = types.ModuleType("js")
    js.AbortController = AbortController  # type: ignore[attr-defined]
    js.fetch = network.fetch  # type: ignore[attr-defined]

    asgi_module = types.ModuleType("workers.asgi")
    asgi_module.__getattr__ = asgi.__getattr__  # type: ignore[attr-defined]

    workers = types.ModuleType("workers")
    for name, value in {
        "fetch": network.fetch,
        "Response": Response,
        "WorkerEntrypoint": WorkerEntrypoint,
        "DurableObject": DurableObject,
        "asgi": asgi_module,
        "JsDict": JsDict,
    }.items():
        setattr(workers, name, value)

    modules = {"pyodide": pyodide, "pyodide.ffi": ffi, "js": js, "workers": workers, "workers.asgi": asgi_module}
    return StandIns(network=network, asgi=asgi, modules=modules)


def installed_names() -> list[str]:
    return [name for name in ("pyodide", "pyodide.ffi", "js", "workers", "workers.asgi") if name in sys.modules]
