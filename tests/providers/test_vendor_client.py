"""The vendor client both runtimes use (providers.vendor_client.VendorClient): the requests it builds by its short
path are the requests httpx would have built, and it keeps no cookies."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from providers.vendor_client import VendorClient

URL = httpx.URL("https://api.vendor.test/v1/audio/speech")


def _same(ours: httpx.Request, theirs: httpx.Request) -> None:
    assert (ours.method, ours.url, ours.content) == (theirs.method, theirs.url, theirs.content)
    assert sorted((k.lower(), v) for k, v in ours.headers.multi_items()) == sorted(
        (k.lower(), v) for k, v in theirs.headers.multi_items()
    )
    assert ours.extensions["timeout"] == theirs.extensions["timeout"]


@pytest.mark.parametrize(
    "method, kwargs",
    [
        ("POST", {"json": {"model": "tts-1", "input": 'Grüße, 你好 — "quoted"', "voice": "alloy", "speed": 1.5}}),
        ("POST", {"json": {"a": [1, 2, None]}, "headers": {"Authorization": "Bearer k", "Accept": "audio/mpeg"}}),
        ("POST", {"json": {}, "headers": {"Content-Type": "application/json; charset=utf-8"}}),
        ("POST", {"content": b"\x00\x01 raw audio", "headers": {"Content-Type": "audio/wav"}}),
        ("POST", {"content": "text body", "headers": {"xi-api-key": "k"}}),
        ("POST", {}),
        ("GET", {"headers": {"Authorization": "Bearer k"}}),
        ("DELETE", {}),
    ],
)
async def test_the_short_path_builds_what_httpx_builds(method: str, kwargs: dict[str, Any]) -> None:
    async with (
        VendorClient(httpx.MockTransport(lambda r: httpx.Response(200))) as ours,
        httpx.AsyncClient() as httpx_own,
    ):
        _same(
            ours.build_request(method, URL, timeout=7.5, **kwargs),
            httpx_own.build_request(method, URL, timeout=7.5, **kwargs),
        )


async def test_anything_else_goes_through_httpx_own_build() -> None:
    async with (
        VendorClient(httpx.MockTransport(lambda r: httpx.Response(200))) as ours,
        httpx.AsyncClient() as httpx_own,
    ):
        for kwargs in (
            {"params": {"alt": "sse", "key": "k"}},
            {"files": {"file": ("a.wav", b"RIFF")}, "data": {"m": "1"}},
        ):
            mine = ours.build_request("POST", URL, timeout=3.0, **kwargs)
            assert mine.url == httpx_own.build_request("POST", URL, timeout=3.0, **kwargs).url
        assert ours.build_request("GET", "https://api.vendor.test/x", timeout=None).url == httpx.URL(
            "https://api.vendor.test/x"
        )


async def test_vendor_cookies_are_never_kept_and_the_response_knows_its_request() -> None:
    sent: list[str | None] = []

    def set_cookie(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers.get("cookie"))
        return httpx.Response(200, headers={"set-cookie": "session=abc; Path=/"})

    async with VendorClient(httpx.MockTransport(set_cookie)) as client:
        first = await client.get("http://vendor.test/")
        await client.get("http://vendor.test/")
        assert not client.cookies and first.request.url == httpx.URL("http://vendor.test/")
    assert sent == [None, None]
