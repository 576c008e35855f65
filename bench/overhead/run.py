"""What the gateway adds to a request, measured against a fake vendor that is never the bottleneck
(``bench.fast_fake``: raw asyncio, tens of thousands of req/s), next to LiteLLM and Portkey in the same run.

Per scenario — TTS through ``/v1/audio/speech`` and ``/voice/synthesize``, chat through ``/v1/chat/completions`` —
the same request is sent by wrk straight to the fake (``direct``) and through each target: the local gateway (auth,
admission, routing, breakers, usage accounting and request logging all on) and, when
``bench/overhead/install-competitors.sh`` has installed them into ``.bench-cache/``, the LiteLLM proxy and the
Portkey AI Gateway pointed at the same fake (``bench.overhead.competitors`` says how each is configured). At 1 and
32 connections, in interleaved rounds (each round runs every scenario, connection count and target once, direct
first); the table shows medians over rounds. ``/voice/synthesize`` is the gateway's own route: n/a for the others.

CPU per request is a target's CPU time over a run divided by the requests wrk completed: /proc/PID/stat utime + stime
summed over the server's process tree, the same for every target (`--workers N` or LiteLLM's workers included — the process started is the server itself, not a wrapper). Added p50/p99 = the target's
percentile minus direct's in the same round. RSS = VmRSS at the end of a run (summed over the tree), max over
rounds. Errors = non-2xx responses and wrk socket errors, direct's included; every target must first answer one
request with 200 and the fake's body.

    bash bench/overhead/install-competitors.sh   # optional: LiteLLM and Portkey
    uv run python -m bench.overhead.run [--seconds 5] [--rounds 3] [--only chat] [--no-competitors]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import shutil
import statistics
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from bench._procs import ROOT, start_fast_fake, start_gateway, tree_cpu_seconds, tree_rss_mb, wrk
from bench.fast_fake import CHAT as FAKE_CHAT
from bench.fast_fake import SPEECH as FAKE_SPEECH
from bench.overhead import competitors

TEXT = "Hello from the benchmark."
SPEECH = {"model": "tts-1", "input": TEXT, "voice": "alloy"}
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello there"}]}
# name: (gateway path, gateway body, (path, body) of the same request straight to the vendor)
SCENARIOS: dict[str, tuple[str, dict, tuple[str, dict]]] = {
    "tts /v1/audio/speech": ("/v1/audio/speech", SPEECH, ("/v1/audio/speech", SPEECH)),
    "tts /voice/synthesize": ("/voice/synthesize", {"text": TEXT, "provider": "openai"}, ("/v1/audio/speech", SPEECH)),
    "chat /v1/chat/completions": ("/v1/chat/completions", CHAT, ("/v1/chat/completions", CHAT)),
}
GATEWAY_ONLY = {"tts /voice/synthesize"}  # LiteLLM and Portkey speak OpenAI's routes, not ours
FAKE_BODY = {"/v1/audio/speech": FAKE_SPEECH, "/v1/chat/completions": FAKE_CHAT}
VENDOR_KEY = "test-openai-key"


@dataclass
class Target:
    name: str
    url: str
    headers: dict[str, str]
    cpu: Callable[[], float]
    rss: Callable[[], float]
    ours: bool  # the gateway: its own paths and bodies; the others get the direct request

    def request(self, scenario: str) -> tuple[str, dict] | None:
        path, body, direct = SCENARIOS[scenario]
        if self.ours:
            return path, body
        return None if scenario in GATEWAY_ONLY else direct


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", help="run one scenario (a substring of its name)")
    parser.add_argument("--no-competitors", action="store_true", help="leave LiteLLM and Portkey out")
    args = parser.parse_args()
    fake, fake_url = start_fast_fake()
    env = {"OPENAI_API_KEY": VENDOR_KEY, "OPENAI_BASE_URL": f"{fake_url}/v1", "REQUEST_DEADLINE_SECONDS": "30"}
    gateway, gw_url, key, state = start_gateway(env)
    others: list[competitors.Competitor] = []
    try:
        if not args.no_competitors:
            others = competitors.start_installed(fake_url, VENDOR_KEY)
        pid = gateway.proc.pid
        json_headers = {"Content-Type": "application/json"}
        targets = [
            Target("gateway", gw_url, {"Authorization": f"Bearer {key}", **json_headers},
                   functools.partial(tree_cpu_seconds, pid), functools.partial(tree_rss_mb, pid), ours=True),
        ] + [
            Target(c.name, c.url, {**c.headers, **json_headers},
                   functools.partial(tree_cpu_seconds, c.pid), functools.partial(tree_rss_mb, c.pid), ours=False)
            for c in others
        ]  # fmt: skip
        scenarios = [name for name in SCENARIOS if not args.only or args.only in name]
        direct_headers = {"Authorization": f"Bearer {VENDOR_KEY}", **json_headers}
        for name in scenarios:  # every target works (200 + the fake's body) before anything is measured
            direct_path, direct_body = SCENARIOS[name][2]
            competitors.check_response(fake_url + direct_path, direct_body, direct_headers, FAKE_BODY[direct_path])
            for target in targets:
                if (req := target.request(name)) is not None:
                    competitors.check_response(target.url + req[0], req[1], target.headers, FAKE_BODY[direct_path])
        for target in targets:  # warm-up: imports, pools, caches
            for name in scenarios:
                if (req := target.request(name)) is not None:
                    wrk(target.url + req[0], json.dumps(req[1]), target.headers, connections=32, seconds=2)
        samples: dict[tuple[str, int, str], list[dict]] = {}
        for _ in range(args.rounds):
            for name in scenarios:
                direct_path, direct_body = SCENARIOS[name][2]
                for connections in (1, 32):
                    direct = wrk(
                        fake_url + direct_path,
                        json.dumps(direct_body),
                        direct_headers,
                        connections=connections,
                        seconds=args.seconds,
                    )
                    for target in targets:
                        if (req := target.request(name)) is None:
                            continue
                        before = target.cpu()
                        through = wrk(
                            target.url + req[0],
                            json.dumps(req[1]),
                            target.headers,
                            connections=connections,
                            seconds=args.seconds,
                        )
                        cpu = target.cpu() - before
                        samples.setdefault((name, connections, target.name), []).append(
                            {
                                "direct_rps": direct["rps"],
                                "rps": through["rps"],
                                "cpu_ms": 1000 * cpu / max(through["requests"], 1),
                                "added_p50": through["p50"] - direct["p50"],
                                "added_p99": through["p99"] - direct["p99"],
                                "errors": sum(r["non2xx"] + r["socket_errors"] for r in (direct, through)),
                                "rss": target.rss(),
                            }
                        )
        report(args, scenarios, targets, others, samples)
    finally:
        for competitor in others:
            competitor.stop()
        gateway.stop()
        fake.stop()
        shutil.rmtree(state, ignore_errors=True)


def report(args, scenarios, targets, others, samples) -> None:  # type: ignore[no-untyped-def]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"commit {commit}; wrk -t1, {args.seconds}s per run, median of {args.rounds} interleaved rounds"
    )
    if others:
        print("competitors: " + "; ".join(f"{c.name} {c.version}" for c in others))
    else:
        missing = [n for n, ok in competitors.installed().items() if not ok]
        print(
            "competitors: "
            + ("left out (--no-competitors)" if args.no_competitors else "")
            + (f"{', '.join(missing)} not installed (bash bench/overhead/install-competitors.sh)" if missing else "")
        )
    print(
        "scenario                  | conns | target  | direct rps |     rps | CPU ms/req | added p50 | added p99 "
        "| RSS MB | errors"
    )
    for name in scenarios:
        for connections in (1, 32):
            for target in targets:
                runs = samples.get((name, connections, target.name))
                if runs is None:
                    print(f"{name:25s} | {connections:5d} | {target.name:7s} | n/a (the gateway's own route)")
                    continue

                def med(field: str, runs: list[dict] = runs) -> float:
                    return statistics.median(r[field] for r in runs)

                print(
                    f"{name:25s} | {connections:5d} | {target.name:7s} | {med('direct_rps'):10.0f} |"
                    f" {med('rps'):7.0f} | {med('cpu_ms'):10.3f} | {med('added_p50'):7.2f}ms |"
                    f" {med('added_p99'):7.2f}ms | {max(r['rss'] for r in runs):6.1f} |"
                    f" {sum(r['errors'] for r in runs)}"
                )


if __name__ == "__main__":
    main()
