"""Failover benchmark: the gateway in-process (ASGI) with two vendor fakes on loopback — OpenAI (the primary: the
cost strategy puts it first) and Deepgram (the secondary). Prints figures; asserts nothing about time.

    healthy      both vendors fine: p50/p99 through the gateway (served by the primary), and with the secondary
                 pinned (the latency a request has once the primary is skipped)
    (a) blackhole  the primary accepts connections and never answers: how many requests pay the attempt timeout
                 before its breaker opens, then p50/p99 of the following requests vs healthy
    (b) 503      the primary answers 503 at once: added latency per request, with breakers on (they open after
                 three failures) and with breakers and global health off (every request pays the 503 round trip)

Run: ``uv run python bench/failover/run.py [--requests 1000] [--attempt-timeout 1.0]``
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from gateway.routing.breaker import BreakerPolicy, Breakers  # noqa: E402
from tests.conftest import make_gateway, vendor_env  # noqa: E402
from tests.fakes.harness import FakeServer, Fault  # noqa: E402
from tests.gateway.routing.support import lift_rate_limits  # noqa: E402

TEXT = "The quick brown fox jumps over the lazy dog."


def fake(name: str) -> FakeServer:
    module = importlib.import_module(f"tests.fakes.{name}")
    server = FakeServer(None)  # type: ignore[arg-type]
    server.app = module.create_app(server.state)
    return server


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def summary(values: list[float]) -> str:
    return f"p50 {pct(values, 50):7.2f} ms   p99 {pct(values, 99):7.2f} ms   mean {statistics.fmean(values):7.2f} ms"


async def timed(gw: Any, **extra: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    r = await gw.client.post("/voice/synthesize", json={"text": TEXT, **extra}, headers=gw.auth())
    elapsed = (time.perf_counter() - started) * 1000
    if r.status_code != 200:
        raise SystemExit(f"request failed: {r.status_code} {r.text[:300]}")
    return elapsed, r


async def series(gw: Any, n: int, **extra: Any) -> list[float]:
    return [(await timed(gw, **extra))[0] for _ in range(n)]


async def paired(gw: Any, n: int) -> tuple[list[float], list[float]]:
    """Alternate a routed request with one pinned to the secondary, so both see the same moment of the machine."""
    routed, pinned = [], []
    for _ in range(n):
        routed.append((await timed(gw))[0])
        pinned.append((await timed(gw, provider="deepgram"))[0])
    return routed, pinned


async def main(requests: int, attempt_timeout: float) -> None:
    primary, secondary = fake("openai"), fake("deepgram")
    with primary, secondary:
        env = {**vendor_env(primary, secondary), "ATTEMPT_TIMEOUT_SECONDS": str(attempt_timeout)}
        print(f"# failover benchmark — {requests} requests per series, attempt timeout {attempt_timeout:.1f} s, "
              f"Python {platform.python_version()} on {platform.machine()}\n")  # fmt: skip

        async for gw in make_gateway(env):
            await lift_rate_limits(gw)
            await series(gw, 20)  # warm up both paths (connections, imports)
            await series(gw, 20, provider="deepgram")
            healthy, secondary_only = await paired(gw, requests)
            print("healthy, served by the primary      ", summary(healthy))
            print("healthy, secondary pinned            ", summary(secondary_only))

            # (a) the primary becomes a black hole
            primary.state.always(Fault("hang"))
            breakers = gw.gateway.failover.breakers
            breaker = breakers.get(*next(key for key in breakers.keys() if key[0] == "openai"))
            slow = 0
            while breaker.state != "open":
                elapsed, r = await timed(gw)
                slow += 1
                print(f"  request {slow}: {elapsed:7.1f} ms via {r.headers['x-provider']} "
                      f"(attempts {r.headers['x-attempts']})")  # fmt: skip
                if slow > 10:
                    raise SystemExit("the breaker did not open")
            before = len(primary.state.requests)
            after, control = await paired(gw, requests)
            print(f"\n(a) blackholed primary: breaker open after {slow} slow requests (each paid the "
                  f"{attempt_timeout:.1f} s attempt timeout)")  # fmt: skip
            print("    after the breaker opened           ", summary(after))
            print("    secondary pinned, same moments     ", summary(control))
            print(f"    requests that still tried the primary: {len(primary.state.requests) - before}")
            print(f"    p99 vs healthy (primary serving):        {pct(after, 99) / pct(healthy, 99) - 1:+.1%}")
            print(f"    p99 vs healthy (secondary pinned):       {pct(after, 99) / pct(secondary_only, 99) - 1:+.1%}")
            print(f"    p99 vs secondary pinned, same moments:   {pct(after, 99) / pct(control, 99) - 1:+.1%}")
            primary.state.reset()

        for breakers_on in (True, False):
            async for gw in make_gateway(env):
                await lift_rate_limits(gw)
                if not breakers_on:  # breakers that never open, no global snapshot: what one 503 round trip costs
                    never = BreakerPolicy(failure_threshold=10**9, window_min_calls=10**9)
                    gw.gateway.failover.breakers = Breakers(never, gw.gateway.runtime.clock)
                    gw.gateway.health.globally_down = lambda provider: False
                await series(gw, 20, provider="deepgram")
                primary.state.requests.clear()
                primary.state.always(Fault("status", status=503))
                failing, base = await paired(gw, requests)
                tried = len(primary.state.requests)
                added = [f - b for f, b in zip(failing, base)]  # each request vs its pinned neighbour
                label = "on" if breakers_on else "and global health off"
                print(f"\n(b) primary answering 503, breakers {label}: requests that tried the primary: "
                      f"{tried}")  # fmt: skip
                print("    secondary pinned, same moments     ", summary(base))
                print("    with the failing primary           ", summary(failing))
                print(
                    f"    added latency per request: p50 {pct(failing, 50) - pct(base, 50):+.2f} ms, "
                    f"p99 {pct(failing, 99) - pct(base, 99):+.2f} ms, mean {statistics.fmean(added):+.2f} ms"
                )
                primary.state.reset()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--attempt-timeout", type=float, default=1.0)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.attempt_timeout))
