"""The gateway as a real server (uvicorn on a free port, its own thread and event loop) for WebSocket clients,
and the Deepgram WebSocket fake."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn

from tests.conftest import ADMIN_TOKEN
from tests.fakes.harness import FakeServer, free_port

T = TypeVar("T")


class GatewayServer:
    """``create_app`` on the local runtime, built and served inside the server thread's own loop."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = {"ADMIN_TOKEN": ADMIN_TOKEN, "ATTEMPT_TIMEOUT_SECONDS": "2", **env}
        self.port = free_port()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.app: Any = None
        self.key = ""
        self.workspace_id = ""
        self._server: uvicorn.Server | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        from gateway.app import create_app
        from runtimes.local.runtime import build_local_runtime

        self.loop = asyncio.get_running_loop()
        runtime = await build_local_runtime(None, self.env)
        self.app = create_app(runtime)
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off", ws="websockets-sansio"
        )
        self._server = uvicorn.Server(config)
        serving = asyncio.ensure_future(self._server.serve())
        while not self._server.started:
            await asyncio.sleep(0.01)
        self._ready.set()
        await serving
        for close in runtime.on_close:
            await close()

    def start(self) -> GatewayServer:
        self._thread.start()
        if not self._ready.wait(20):
            raise RuntimeError("gateway server did not start")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(timeout=10)

    async def in_server(self, work: Awaitable[T]) -> T:
        """Run a coroutine on the server's loop (its database lives there)."""
        assert self.loop is not None
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self.loop))  # type: ignore[arg-type]

    async def setup_workspace(self) -> None:
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with httpx.AsyncClient(base_url=self.url) as client:
            r = await client.put("/admin/platform/settings", json={"builtinFallbackEnabled": False}, headers=admin)
            assert r.status_code == 200, r.text
            r = await client.post("/admin/workspaces", json={"name": "stream"}, headers=admin)
            assert r.status_code == 201, r.text
            self.workspace_id = r.json()["id"]
            r = await client.post(f"/admin/workspaces/{self.workspace_id}/keys", json={"name": "ws"}, headers=admin)
            assert r.status_code == 201, r.text
            self.key = r.json()["key"]

    async def usage_rows(self) -> list[dict[str, Any]]:
        async def read() -> list[dict[str, Any]]:
            gateway = self.app.state.gateway
            await gateway.runtime.tasks.drain()
            await gateway.recorder.flush()
            return await gateway.runtime.db.all("SELECT * FROM usage_records ORDER BY segment")  # type: ignore[no-any-return]

        return await self.in_server(read())

    async def failover_rows(self) -> list[dict[str, Any]]:
        async def read() -> list[dict[str, Any]]:
            gateway = self.app.state.gateway
            await gateway.runtime.tasks.drain()
            await gateway.recorder.flush()
            return await gateway.runtime.db.all("SELECT * FROM failover_logs ORDER BY id")  # type: ignore[no-any-return]

        return await self.in_server(read())


@pytest.fixture(scope="session")
def deepgram_ws() -> Iterator[FakeServer]:
    from tests.fakes.deepgram_ws import create_app

    server = FakeServer(None)  # type: ignore[arg-type]
    server.app = create_app(server.state)
    with server:
        yield server


@pytest.fixture(autouse=True)
def _reset_ws_fake(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "deepgram_ws" in request.fixturenames:
        request.getfixturevalue("deepgram_ws").state.reset()


async def running_gateway(env: dict[str, str]) -> AsyncIterator[GatewayServer]:
    server = GatewayServer(env).start()
    try:
        await server.setup_workspace()
        yield server
    finally:
        server.stop()


REALTIME_ENV = {
    "REALTIME_STALL_SECONDS": "1.0",
    "REALTIME_KEEPALIVE_SECONDS": "3",
    "REALTIME_CLOSE_TIMEOUT_SECONDS": "2",
}


def deepgram_ws_env(fake: FakeServer) -> dict[str, str]:
    return {"DEEPGRAM_API_KEY": "test-deepgram-key", "DEEPGRAM_BASE_URL": fake.url, **REALTIME_ENV}


def workers_ws_env(fake: FakeServer) -> dict[str, str]:
    return {
        "CLOUDFLARE_ACCOUNT_ID": "acct",
        "CLOUDFLARE_API_TOKEN": "test-cf-token",
        "WORKERS_AI_BASE_URL": f"{fake.url}/v1",
    }


@pytest.fixture
async def dg_gateway(deepgram_ws: FakeServer) -> AsyncIterator[GatewayServer]:
    """A gateway server whose only speech-to-text vendor is Deepgram, pointed at the WebSocket fake."""
    async for server in running_gateway(deepgram_ws_env(deepgram_ws)):
        yield server
