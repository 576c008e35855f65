"""Chaos: 500 synthesis requests, 20 at a time, against three vendor fakes (OpenAI, Deepgram, ElevenLabs) failing at
random — 503, 429 (with and without Retry-After), black holes under a short attempt timeout, malformed bodies,
connections cut mid-body — standing or flaky, re-drawn for every wave of requests, while at least one vendor is
healthy at any time. The client must never see an error.

Faults change only between waves (all requests of a wave finished), so "one vendor is healthy at any time" holds for
every request. A short breaker cooldown makes breakers open, half-open and close many times during the run.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.conftest import make_gateway, vendor_env
from tests.fakes.harness import FakeServer, Fault
from tests.gateway.routing.support import lift_rate_limits

VENDORS = ("openai", "deepgram", "elevenlabs")
WAVES, PER_WAVE = 25, 20  # 500 requests, 20 in flight at a time
SEED = 20240611


@pytest.fixture(scope="module")
def elevenlabs_fake() -> Iterator[FakeServer]:
    from tests.fakes import elevenlabs

    server = FakeServer(None)  # type: ignore[arg-type]
    server.app = elevenlabs.create_app(server.state)
    with server:
        yield server


def random_fault(rng: random.Random) -> Fault:
    kind = rng.choice(["503", "429", "429-retry-after", "hang", "malformed", "cut", "500"])
    if kind == "hang":
        return Fault("hang")
    if kind in ("malformed", "cut"):
        return Fault(kind)
    if kind == "429-retry-after":
        return Fault("status", status=429, retry_after="1")
    return Fault("status", status=int(kind[:3]))


def draw_wave(rng: random.Random, servers: dict[str, FakeServer]) -> list[str]:
    """Reset every fake, keep one vendor healthy, fault the others (standing, flaky or not at all)."""
    healthy = rng.choice(VENDORS)
    faulty = []
    for name, server in servers.items():
        server.state.reset()
        if name == healthy:
            continue
        mode = rng.choice(["standing", "flaky", "flaky", "fine"])
        if mode == "standing":
            server.state.always(random_fault(rng))
            faulty.append(name)
        elif mode == "flaky":  # a run of one-shot faults that the next requests to this vendor hit
            server.state.fail(*(random_fault(rng) for _ in range(rng.randint(1, PER_WAVE))))
            faulty.append(name)
    return faulty


async def test_no_client_visible_error_while_one_vendor_is_healthy(
    openai_fake: FakeServer, deepgram_fake: FakeServer, elevenlabs_fake: FakeServer
) -> None:
    env = {
        **vendor_env(openai_fake, deepgram_fake),
        "ELEVENLABS_API_KEY": "test-elevenlabs-key",
        "ELEVENLABS_BASE_URL": elevenlabs_fake.url,
        "ATTEMPT_TIMEOUT_SECONDS": "1.0",
        "BREAKER_COOLDOWN_SECONDS": "0.5",
        "BREAKER_MAX_COOLDOWN_SECONDS": "1",
    }
    servers = {"openai": openai_fake, "deepgram": deepgram_fake, "elevenlabs": elevenlabs_fake}
    rng = random.Random(SEED)
    statuses: Counter[int] = Counter()
    winners: Counter[str] = Counter()
    attempts = 0
    errors: list[str] = []
    async for gw in make_gateway(env):
        await lift_rate_limits(gw)
        for wave in range(WAVES):
            faulty = draw_wave(rng, servers)
            texts = [f"Wave {wave}, request {n}: the gateway keeps talking." for n in range(PER_WAVE)]
            responses = await asyncio.gather(
                *(gw.client.post("/voice/synthesize", json={"text": t}, headers=gw.auth()) for t in texts)
            )
            for r in responses:
                statuses[r.status_code] += 1
                if r.status_code == 200:
                    winners[r.headers["x-provider"]] += 1
                    attempts += int(r.headers["x-attempts"])
                    assert r.content, "an empty audio body"
                else:
                    errors.append(f"wave {wave} ({faulty}): {r.text[:900]}")
        breakers = gw.gateway.failover.breakers
        opened = sum(breakers.get(v, fp).opened_count for v, fp in breakers.keys())
        await gw.settle()
        switched = await gw.db.first("SELECT COUNT(*) AS n FROM failover_logs")
        for server in servers.values():
            server.state.reset()
    assert statuses == Counter({200: WAVES * PER_WAVE}), errors[:3]
    # The faults were real: requests failed over, breakers opened, and every vendor served some requests.
    assert attempts > WAVES * PER_WAVE and switched["n"] > 0
    assert opened > 0
    assert set(winners) == set(VENDORS)
