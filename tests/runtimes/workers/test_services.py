"""Background tasks (ctx.waitUntil), the health RPC client and the outbound WebSocket, with the SDK stand-ins."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gateway.ports import UpstreamClosed
from runtimes.workers.health import HEALTH_OBJECT_NAME, DurableObjectHealthService
from runtimes.workers.tasks import WorkersBackgroundTasks, current_ctx
from runtimes.workers.websocket import open_websocket

from . import standins

# ---------------------------------------------------------------------------------------------------- tasks


async def test_spawn_registers_the_work_with_the_current_request_ctx(sdk):
    tasks = WorkersBackgroundTasks()
    first, second = standins.ExecutionContext(), standins.ExecutionContext()
    done: list[str] = []

    async def work(label: str) -> None:
        await asyncio.sleep(0)
        done.append(label)

    async def request(ctx: standins.ExecutionContext, label: str) -> None:
        current_ctx.set(ctx)  # what entry.Default.fetch does; each request runs in its own task/context
        tasks.spawn(work(label))

    await asyncio.gather(asyncio.create_task(request(first, "a")), asyncio.create_task(request(second, "b")))
    assert len(first.waited) == 1 and len(second.waited) == 1 and first.waited[0] is not second.waited[0]
    await tasks.drain()
    assert sorted(done) == ["a", "b"]
    assert current_ctx.get() is None  # the requests' settings did not leak into this context


async def test_work_spawned_by_background_work_joins_the_same_request(sdk):
    tasks = WorkersBackgroundTasks()
    ctx = standins.ExecutionContext()

    async def inner() -> None:
        await asyncio.sleep(0)

    async def outer() -> None:
        tasks.spawn(inner())

    token = current_ctx.set(ctx)
    try:
        tasks.spawn(outer())
    finally:
        current_ctx.reset(token)
    await tasks.drain()
    assert len(ctx.waited) == 2


async def test_drain_survives_failing_work_and_spawn_works_outside_a_request(sdk):
    tasks = WorkersBackgroundTasks()

    async def boom() -> None:
        raise RuntimeError("boom")

    async def fine() -> None:
        await asyncio.sleep(0.01)

    tasks.spawn(boom())
    tasks.spawn(fine())
    await tasks.drain()
    assert not tasks._pending


# ---------------------------------------------------------------------------------------------------- health RPC


class RecordingHealthObject:
    def __init__(self) -> None:
        self.reports: list[Any] = []

    async def report(self, observations: list[dict[str, Any]]) -> None:
        self.reports.append(observations)

    async def snapshot(self) -> dict[str, Any]:
        return {"openai": {"status": "degraded", "errorRate": 0.25, "latencyMs": None, "lastCheck": 1}}


async def test_health_client_calls_the_global_object_over_rpc(sdk):
    namespace = standins.DurableObjectNamespace(lambda state: RecordingHealthObject())
    health = DurableObjectHealthService(namespace)
    batch = [{"provider": "openai", "ok": False, "latency_ms": None, "error_class": "server", "at": 5}]
    await health.report(batch)
    snapshot = await health.snapshot()

    assert list(namespace.objects) == [HEALTH_OBJECT_NAME]
    assert namespace.objects[HEALTH_OBJECT_NAME].reports == [batch]
    assert snapshot == {"openai": {"status": "degraded", "errorRate": 0.25, "latencyMs": None, "lastCheck": 1}}
    assert type(snapshot) is dict and type(snapshot["openai"]) is dict  # plain Python, not JsDict
    assert [name for name, _ in namespace.calls] == ["report", "snapshot"]


async def test_a_stub_dies_with_its_request_but_the_service_works_across_requests(sdk):
    namespace = standins.DurableObjectNamespace(lambda state: RecordingHealthObject())
    health = DurableObjectHealthService(namespace)
    first = current_ctx.set(standins.ExecutionContext())
    stub = namespace.getByName(HEALTH_OBJECT_NAME)
    await health.snapshot()
    current_ctx.reset(first)
    second = current_ctx.set(standins.ExecutionContext())
    try:
        with pytest.raises(standins.JsException, match="on behalf of a different request"):
            await stub.snapshot()
        assert await health.snapshot()  # the service takes a stub in the request that uses it
    finally:
        current_ctx.reset(second)


async def test_health_client_takes_a_stub_per_call(sdk):
    """A stub belongs to the request that made it (workerd throws when another request uses it): one per call."""

    class Flaky(RecordingHealthObject):
        calls = 0

        async def snapshot(self) -> dict[str, Any]:
            Flaky.calls += 1
            if Flaky.calls == 1:
                raise standins.JsException("Error", "Durable Object reset because its code was updated.")
            return {}

    stubs: list[Any] = []
    namespace = standins.DurableObjectNamespace(lambda state: Flaky())
    original = namespace.getByName
    namespace.getByName = lambda name: stubs.append(name) or original(name)  # type: ignore[method-assign]
    health = DurableObjectHealthService(namespace)
    with pytest.raises(standins.JsException):
        await health.snapshot()
    assert await health.snapshot() == {}
    assert len(stubs) == 2


# ---------------------------------------------------------------------------------------------------- websocket


def upgrade_with(sdk: standins.StandIns, socket: standins.JsWebSocket | None, status: int = 101) -> None:
    async def handler(request: standins.SentRequest) -> standins.JsResponse:
        return standins.JsResponse(status=status, webSocket=socket if socket is not None else standins.jsnull)

    sdk.network.handler = handler


async def test_websocket_opens_with_fetch_and_relays_both_ways(sdk):
    socket = standins.JsWebSocket()
    upgrade_with(sdk, socket)
    ws = await open_websocket(
        "wss://gateway.ai.cloudflare.com/v1/acct/gw/workers-ai?model=flux",
        {"cf-aig-authorization": "Bearer t"},
        timeout=1,
    )

    sent = sdk.network.sent[0]
    assert sent.url == "https://gateway.ai.cloudflare.com/v1/acct/gw/workers-ai?model=flux"
    assert dict(sent.headers) == {"upgrade": "websocket", "cf-aig-authorization": "Bearer t"}
    assert socket.accepted and socket.binaryType == "arraybuffer"

    await ws.send_text('{"type":"KeepAlive"}')
    await ws.send_bytes(b"\x01\x02")
    assert socket.sent == ['{"type":"KeepAlive"}', b"\x01\x02"]

    socket.peer_sends('{"type":"Results"}')
    socket.peer_sends(b"\xff\x00")
    assert await ws.receive() == '{"type":"Results"}'
    assert await ws.receive() == b"\xff\x00"


async def test_websocket_close_from_the_vendor_raises_upstream_closed(sdk):
    socket = standins.JsWebSocket()
    upgrade_with(sdk, socket)
    ws = await open_websocket("wss://vendor.example/listen", {}, timeout=1)
    socket.peer_sends("last words")
    socket.peer_closes(1011, "internal error")
    assert await ws.receive() == "last words"
    for _ in range(2):  # every later receive sees the close as well
        with pytest.raises(UpstreamClosed) as closed:
            await ws.receive()
        assert (closed.value.code, closed.value.reason) == (1011, "internal error")
    with pytest.raises(UpstreamClosed):
        await ws.send_text("too late")
    await asyncio.sleep(0)  # proxies are released on the next tick
    assert not any(socket.listeners.values())


async def test_websocket_error_event_and_our_close(sdk):
    socket = standins.JsWebSocket()
    upgrade_with(sdk, socket)
    ws = await open_websocket("wss://vendor.example/listen", {}, timeout=1)
    socket.peer_errors()
    with pytest.raises(UpstreamClosed) as closed:
        await ws.receive()
    assert closed.value.code == 1006

    socket2 = standins.JsWebSocket()
    upgrade_with(sdk, socket2)
    ws2 = await open_websocket("wss://vendor.example/listen", {}, timeout=1)
    await ws2.close(1000)
    assert socket2.closed == (1000, "")
    socket2.peer_closes(1000)  # the close event arriving after our close() is harmless
    await ws2.close()  # and closing twice too
    with pytest.raises(UpstreamClosed):
        await ws2.receive()


async def test_websocket_upgrade_refused_or_unreachable(sdk):
    upgrade_with(sdk, None, status=401)
    with pytest.raises(ConnectionError, match="HTTP 401"):
        await open_websocket("wss://vendor.example/listen", {}, timeout=1)

    sdk.network.handler = None  # the stand-in network then fails like a lost connection
    with pytest.raises(ConnectionError):
        await open_websocket("wss://vendor.example/listen", {}, timeout=1)

    async def never(request: standins.SentRequest) -> standins.JsResponse:
        await asyncio.sleep(10)
        raise AssertionError("unreachable")

    sdk.network.handler = never
    with pytest.raises(TimeoutError):
        await open_websocket("wss://vendor.example/listen", {}, timeout=0.05)
