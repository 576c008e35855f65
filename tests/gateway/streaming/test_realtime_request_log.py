"""A realtime session is one request-log row: method WS, the vendor, its audio seconds and cost, its length; a
refused session is a row with its close status as the HTTP status and the error's type."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.conftest import ADMIN_TOKEN
from tests.fakes.harness import FakeServer

from .conftest import GatewayServer
from .test_realtime import SPEECH, collect, session


async def log_rows(gw: GatewayServer) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=gw.url) as client:
        r = await client.get("/admin/logs", params={"route": "/voice/realtime"},
                             headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})  # fmt: skip
    assert r.status_code == 200
    return r.json()["requests"]  # type: ignore[no-any-return]


async def test_a_session_is_one_row_with_vendor_units_cost_and_length(
    dg_gateway: GatewayServer, deepgram_ws: FakeServer
) -> None:
    events, code = await session(dg_gateway, SPEECH)
    assert code == 1000
    [row] = await log_rows(dg_gateway)
    usage = (await dg_gateway.usage_rows())[0]
    assert (row["method"], row["status"], row["vendor"], row["capability"]) == ("WS", 101, "deepgram", "stt")
    assert row["workspaceId"] == dg_gateway.workspace_id and row["errorClass"] is None
    assert row["audioSeconds"] == pytest.approx(4.2, abs=0.01) and row["costMicros"] == usage["final_cost_micros"]
    assert row["latencyMs"] >= row["ttfbMs"] >= 0


async def test_a_refused_session_is_logged_with_its_error(dg_gateway: GatewayServer) -> None:
    async with connect(f"{dg_gateway.ws_url}/voice/realtime", subprotocols=["vgw-key.vgw_bad_key"]) as ws:  # type: ignore[list-item]
        await asyncio.wait_for(collect(ws), 5)
    assert ws.close_code == 4401
    [row] = await log_rows(dg_gateway)
    assert (row["status"], row["errorClass"], row["workspaceId"]) == (401, "unauthorized", None)
