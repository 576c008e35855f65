"""The local engine needs no server and no key: a provider instance and a Call whose HTTP client it never uses."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from providers.base import Call
from providers.local import LocalProvider


@pytest.fixture
def provider() -> LocalProvider:
    return LocalProvider()


@pytest.fixture
async def call(provider: LocalProvider) -> AsyncIterator[Call]:
    async with httpx.AsyncClient() as http:
        credentials = provider.credentials_from_env({})
        assert credentials is not None
        # Generous: recognition is CPU-bound and the suite may share two cores with other tests.
        yield Call(http=http, credentials=credentials, timeout=60)
