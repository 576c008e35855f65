"""How the voice-agent fakes deliver webhooks: POST the signed bytes to the gateway, retrying on non-2xx like the
vendors do, and optionally delivering the same event again (a duplicate) after it was accepted.

``client`` is any ``httpx.AsyncClient`` that reaches the gateway: the in-process ASGI client in tests, a real HTTP
client against ``voice-gateway dev``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx


@dataclass
class Delivery:
    statuses: list[int] = field(default_factory=list)  # one per POST made, in order

    @property
    def accepted(self) -> bool:
        return any(200 <= s < 300 for s in self.statuses)


async def deliver(
    client: httpx.AsyncClient, path: str, raw: bytes, headers: dict[str, str], *, retries: int = 3,
    duplicates: int = 0,
) -> Delivery:  # fmt: skip
    delivery = Delivery()
    for _ in range(1 + retries):
        response = await client.post(path, content=raw, headers={"content-type": "application/json", **headers})
        delivery.statuses.append(response.status_code)
        if response.status_code < 300:
            break
    for _ in range(duplicates):
        response = await client.post(path, content=raw, headers={"content-type": "application/json", **headers})
        delivery.statuses.append(response.status_code)
    return delivery
