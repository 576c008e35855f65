"""What the LLM adapter contract tests share: a vendor fake on loopback, its reset state, a client and a call.

A test module binds the fixtures under their usual names with ``server, state, http = loopback_fixtures(create_app)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from providers.base import Call, ChatMessage, CompletionRequest, Credentials
from tests.fakes.harness import FakeServer, FakeState


def loopback_fixtures(create_app: Callable[[FakeState], Any]) -> tuple[Any, Any, Any]:
    @pytest.fixture(scope="module", name="server")
    def server() -> Iterator[FakeServer]:
        shared = FakeState()
        with FakeServer(create_app(shared), shared) as running:
            yield running

    @pytest.fixture(name="state")
    def state(server: FakeServer) -> FakeState:
        server.state.reset()
        return server.state

    @pytest.fixture(name="http")
    async def http() -> AsyncIterator[httpx.AsyncClient]:
        # Plain HTTP to loopback: skipping the CA bundle load saves ~60 ms per test.
        async with httpx.AsyncClient(verify=False) as client:
            yield client

    return server, state, http


def make_call(http: httpx.AsyncClient, server: FakeServer, key: str | None, timeout: float = 2) -> Call:
    return Call(http=http, credentials=Credentials(api_key=key, base_url=server.url), timeout=timeout)


def ask(*messages: tuple[str, str], **kwargs: Any) -> CompletionRequest:
    return CompletionRequest(messages=tuple(ChatMessage(role, content) for role, content in messages), **kwargs)
