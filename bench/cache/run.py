"""The speech cache: what a hit costs against the direct vendor call, and what the cache saves on a repeat mix.

1. Latency and req/s (wrk, one run each): the same TTS request sent straight to the fake OpenAI server, through the
   gateway with the cache off (every request reaches the vendor), and through the gateway with the cache on (after
   the first request every one is a HIT: auth, limits, the policy read, one store read, the usage row).
2. Cost on a repeat mix: N requests where ~30 % repeat one of a few common prompts (greetings, hold messages) and
   the rest are unique, through the gateway with the cache on; the usage report's cache section gives what the hits
   saved against what the vendors were paid.

    uv run python -m bench.cache.run [--seconds 10] [--mix 400]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import time

import httpx

from bench._procs import start_fake, start_gateway, wrk

TEXT = "Thank you for calling Acme. Please hold."
COMMON = [
    "Thank you for calling Acme. Please hold.", "Your call is important to us.", "Press one for sales.",
    "Press two for support.", "Please say your account number.", "One moment while I look that up.",
    "Is there anything else I can help you with?", "Goodbye, and have a nice day.",
]  # fmt: skip
REPEAT_SHARE = 0.3


def admin_of(gw_url: str, state) -> tuple[dict[str, str], str]:  # type: ignore[no-untyped-def]
    admin = {"Authorization": f"Bearer {(state / 'admin-token').read_text().strip()}"}
    workspace = httpx.get(f"{gw_url}/admin/workspaces", headers=admin).json()["workspaces"][0]["id"]
    return admin, workspace


def latency_rows(fake_url: str, gw_url: str, key: str, admin: dict[str, str], workspace: str, seconds: int) -> list:
    direct_body = json.dumps({"model": "tts-1", "input": TEXT, "voice": "alloy"})
    direct_headers = {"Authorization": "Bearer test-openai-key", "Content-Type": "application/json"}
    gw_body = json.dumps({"text": TEXT, "provider": "openai"})
    gw_headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    cache_url = f"{gw_url}/admin/workspaces/{workspace}/cache"
    rows = []
    for connections in (1, 32):
        wrk(f"{fake_url}/v1/audio/speech", direct_body, direct_headers, connections=connections, seconds=2)
        direct = wrk(f"{fake_url}/v1/audio/speech", direct_body, direct_headers, connections=connections,
                     seconds=seconds)  # fmt: skip
        httpx.put(cache_url, json={"enabled": False}, headers=admin).raise_for_status()
        wrk(f"{gw_url}/voice/synthesize", gw_body, gw_headers, connections=connections, seconds=2)  # warm-up
        vendor = wrk(f"{gw_url}/voice/synthesize", gw_body, gw_headers, connections=connections, seconds=seconds)
        httpx.put(cache_url, json={"enabled": True}, headers=admin).raise_for_status()
        time.sleep(1.1)  # the policy is cached per process for CONFIG_CACHE_SECONDS (1 s here)
        wrk(f"{gw_url}/voice/synthesize", gw_body, gw_headers, connections=connections, seconds=2)  # fills + warms
        hit = wrk(f"{gw_url}/voice/synthesize", gw_body, gw_headers, connections=connections, seconds=seconds)
        rows.append((connections, direct, vendor, hit))
    return rows


def repeat_mix(gw_url: str, key: str, admin: dict[str, str], workspace: str, count: int) -> dict:
    httpx.delete(f"{gw_url}/admin/workspaces/{workspace}/cache", headers=admin).raise_for_status()
    rng = random.Random(14)
    statuses: dict[str, int] = {}
    before = httpx.get(f"{gw_url}/admin/usage", params={"workspaceId": workspace}, headers=admin).json()
    started = time.perf_counter()
    with httpx.Client(base_url=gw_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        for i in range(count):
            text = (
                rng.choice(COMMON)
                if rng.random() < REPEAT_SHARE
                else f"Your order number {i} ships on day {i % 28 + 1}."
            )
            r = client.post("/voice/synthesize", json={"text": text, "provider": "openai"})
            r.raise_for_status()
            statuses[r.headers["x-cache"]] = statuses.get(r.headers["x-cache"], 0) + 1
    elapsed = time.perf_counter() - started
    time.sleep(0.5)  # usage rows are written after the responses
    after = httpx.get(f"{gw_url}/admin/usage", params={"workspaceId": workspace}, headers=admin).json()
    paid = after["totals"]["providerCost"] - before["totals"]["providerCost"]
    saved = after["cache"]["savedProviderCost"] - before["cache"]["savedProviderCost"]
    return {"count": count, "statuses": statuses, "paid": paid, "saved": saved, "seconds": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--mix", type=int, default=400)
    args = parser.parse_args()
    fake, fake_url = start_fake("openai")
    env = {"OPENAI_API_KEY": "test-openai-key", "OPENAI_BASE_URL": f"{fake_url}/v1", "REQUEST_DEADLINE_SECONDS": "30",
           "CONFIG_CACHE_SECONDS": "1"}  # fmt: skip
    gateway, gw_url, key, state = start_gateway(env)
    try:
        admin, workspace = admin_of(gw_url, state)
        rows = latency_rows(fake_url, gw_url, key, admin, workspace, args.seconds)
        mix = repeat_mix(gw_url, key, admin, workspace, args.mix)
        print(f"machine: {platform.machine()} {platform.python_version()}, {os.cpu_count()} cores (shared), "
              f"wrk -t1, {args.seconds}s per run")  # fmt: skip
        print("conns | direct rps | gw→vendor rps | gw HIT rps | direct p50 | gw→vendor p50 | gw HIT p50 | HIT p99 "
              "| HIT added p50 vs direct | errors")  # fmt: skip
        for connections, d, v, h in rows:
            print(
                f"{connections:5d} | {d['rps']:10.0f} | {v['rps']:13.0f} | {h['rps']:10.0f} | {d['p50']:8.2f}ms |"
                f" {v['p50']:11.2f}ms | {h['p50']:8.2f}ms | {h['p99']:5.2f}ms | {h['p50'] - d['p50']:21.2f}ms |"
                f" {d['non2xx'] + v['non2xx'] + h['non2xx']}"
            )
        total = mix["paid"] + mix["saved"]
        print(f"repeat mix: {mix['count']} requests, ~{REPEAT_SHARE:.0%} repeats of {len(COMMON)} prompts, "
              f"X-Cache {mix['statuses']}, {mix['count'] / mix['seconds']:.0f} req/s sequential")  # fmt: skip
        print(f"  vendor cost paid ${mix['paid']:.6f}, avoided by hits ${mix['saved']:.6f}"
              f" -> {mix['saved'] / total:.1%} of the vendor cost saved" if total else "  no cost recorded")  # fmt: skip
    finally:
        gateway.stop()
        fake.stop()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
