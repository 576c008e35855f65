"""Integers a client puts in a query (cursors, times) are bounded before they reach the database: beyond 64 bits
SQLite cannot bind them and beyond 2**53 D1 binds them wrongly, so they are refused (422 invalid_request, like any invalid query), never an internal error."""

from __future__ import annotations

import pytest

from tests.conftest import GatewayHarness

HUGE = ["9" * 30, str(2**63), str(2**53), "-1"]


@pytest.mark.parametrize("value", HUGE)
@pytest.mark.parametrize(
    ("path", "param", "as_admin"),
    [
        ("/voice/calls", "before", False),
        ("/logs", "since", False),
        ("/logs", "until", False),
        ("/logs", "cursor", False),
        ("/admin/logs", "cursor", True),
        ("/admin/logs", "since", True),
    ],
)
async def test_out_of_range_query_integers_are_refused(gw: GatewayHarness, path: str, param: str, as_admin: bool,
                                                     value: str) -> None:  # fmt: skip
    headers = gw.admin if as_admin else gw.auth()
    r = await gw.client.get(path, params={param: value}, headers=headers)
    assert r.status_code == 422, (path, param, value, r.text[:200])
    assert r.json()["error"]["type"] == "invalid_request"


async def test_the_largest_bound_integer_is_accepted(gw: GatewayHarness) -> None:
    r = await gw.client.get("/logs", params={"until": str(2**53 - 1)}, headers=gw.auth())
    assert r.status_code == 200, r.text[:200]
