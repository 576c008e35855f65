"""Deeply nested JSON is a 400 on every JSON route, whatever its shape — never a RecursionError and a 500."""

from __future__ import annotations

import json

import pytest

from gateway.json_bounds import MAX_DEPTH, TooDeep, loads
from tests.conftest import GatewayHarness

JSON_ROUTES = [
    ("POST", "/voice/synthesize"),
    ("POST", "/voice/stream"),
    ("POST", "/llm/generate"),
    ("POST", "/llm/generate-script"),
    ("POST", "/v1/audio/speech"),
    ("POST", "/v1/chat/completions"),
    ("POST", "/admin/workspaces"),
    ("PATCH", "/admin/workspaces/{ws}"),
    ("POST", "/admin/workspaces/{ws}/keys"),
    ("PUT", "/admin/workspaces/{ws}/providers/openai"),
    ("PUT", "/admin/workspaces/{ws}/strategy"),
    ("PUT", "/admin/platform/providers/deepgram"),
    ("PUT", "/admin/platform/settings"),
]

NESTED = {
    "open brackets": "[" * 1000,  # 1 KB, unterminated: the case
    "open objects": '{"a":' * 1000,
    "balanced arrays": "[" * 1000 + "]" * 1000,
    "balanced objects": '{"a":' * 1000 + "1" + "}" * 1000,
    "deep inside a valid body": '{"text": "hi", "input": "hi", "name": "x", "voiceConfig": '
    + "[" * 200
    + "]" * 200
    + "}",  # parses fine in Python, still far deeper than any request needs
    "messages": '{"model": "gpt-4o-mini", "messages": [' + '{"content":' * 500 + '"x"' + "}" * 500 + "]}",
    "100 KB of brackets": "[{" * 50_000,
}


@pytest.mark.parametrize("shape", sorted(NESTED))
async def test_nested_json_is_a_400_on_every_json_route(gw: GatewayHarness, shape: str) -> None:
    body = NESTED[shape].encode()
    for method, path in JSON_ROUTES:
        path = path.format(ws=gw.workspace_id)
        auth = gw.admin if path.startswith("/admin") else gw.auth()
        r = await gw.client.request(method, path, content=body, headers={**auth, "Content-Type": "application/json"})
        assert r.status_code == 400, (method, path, r.status_code, r.text[:300])
        error = r.json()["error"]
        assert error["type"] in ("invalid_request", "invalid_request_error"), error  # ours, or OpenAI's on /v1
        assert "nested deeper" in error["message"], error


async def test_brackets_inside_strings_are_just_text(gw: GatewayHarness) -> None:
    r = await gw.client.post("/voice/synthesize", json={"text": "[" * 1000 + "{" * 1000}, headers=gw.auth())
    assert r.status_code < 500 and (r.status_code != 400 or "nested" not in r.text), (r.status_code, r.text[:300])
    r = await gw.client.patch(f"/admin/workspaces/{gw.workspace_id}", json={"name": '[{"x": ' * 25},
                              headers=gw.admin)  # fmt: skip
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("depth", [MAX_DEPTH - 1, MAX_DEPTH])
def test_nesting_up_to_the_limit_parses(depth: int) -> None:
    text = "[" * depth + "]" * depth
    assert loads(text) == json.loads(text)
    escaped = '["\\"[[[[' + "[" * 100 + '"]'  # an escaped quote does not end the string early
    assert loads(escaped) == json.loads(escaped)


@pytest.mark.parametrize(
    "text", ["[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "[" * 5000, '{"a":' * 40, "[" * 200 + '"' + "]" * 200]
)
def test_deeper_than_the_limit_is_too_deep(text: str) -> None:
    with pytest.raises(TooDeep):
        loads(text)


def test_utf16_json_still_parses() -> None:
    assert loads('{"text": "h\u00e9"}'.encode("utf-16")) == {"text": "h\u00e9"}
