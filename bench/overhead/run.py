"""What the gateway adds to a request, measured against a fake vendor that is never the bottleneck
(``bench.fast_fake``: raw asyncio, tens of thousands of req/s). Per scenario — TTS through ``/v1/audio/speech`` and
``/voice/synthesize``, chat through ``/v1/chat/completions`` — the same request is sent by wrk straight to the fake and
through the local gateway (auth, admission, routing, breakers, usage accounting and request logging all on), at 1 and
32 connections, in interleaved rounds; the table shows medians over rounds. CPU per request is the gateway process's
CPU time (/proc/PID/stat utime + stime) over a run divided by the requests wrk completed. LiteLLM and Portkey are
added to the same run only when installed (``litellm`` / ``portkey`` on PATH) — they are not on this machine.

    uv run python -m bench.overhead.run [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess

from bench._procs import ROOT, cpu_seconds, rss_mb, start_fast_fake, start_gateway, wrk

TEXT = "Hello from the benchmark."
SPEECH = {"model": "tts-1", "input": TEXT, "voice": "alloy"}
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello there"}]}
SCENARIOS = {  # name: (gateway path, gateway body, the same request's body straight to the vendor)
    "tts /v1/audio/speech": ("/v1/audio/speech", SPEECH, ("/v1/audio/speech", SPEECH)),
    "tts /voice/synthesize": ("/voice/synthesize", {"text": TEXT, "provider": "openai"}, ("/v1/audio/speech", SPEECH)),
    "chat /v1/chat/completions": ("/v1/chat/completions", CHAT, ("/v1/chat/completions", CHAT)),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", help="run one scenario (a substring of its name)")
    args = parser.parse_args()
    fake, fake_url = start_fast_fake()
    env = {"OPENAI_API_KEY": "test-openai-key", "OPENAI_BASE_URL": f"{fake_url}/v1", "REQUEST_DEADLINE_SECONDS": "30"}
    gateway, gw_url, key, state = start_gateway(env)
    pid = gateway.proc.pid
    scenarios = {k: v for k, v in SCENARIOS.items() if not args.only or args.only in k}
    direct_headers = {"Authorization": "Bearer test-openai-key", "Content-Type": "application/json"}
    gw_headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    samples: dict[tuple[str, int], list[dict]] = {}
    try:
        for path, body, _ in scenarios.values():  # warm-up: imports, pools, caches
            wrk(gw_url + path, json.dumps(body), gw_headers, connections=32, seconds=2)
        for _ in range(args.rounds):
            for name, (path, body, (direct_path, direct_body)) in scenarios.items():
                for connections in (1, 32):
                    direct = wrk(
                        fake_url + direct_path,
                        json.dumps(direct_body),
                        direct_headers,
                        connections=connections,
                        seconds=args.seconds,
                    )
                    before = cpu_seconds(pid)
                    through = wrk(
                        gw_url + path, json.dumps(body), gw_headers, connections=connections, seconds=args.seconds
                    )
                    cpu = cpu_seconds(pid) - before
                    samples.setdefault((name, connections), []).append(
                        {
                            "direct_rps": direct["rps"],
                            "rps": through["rps"],
                            "cpu_ms": 1000 * cpu / max(through["requests"], 1),
                            "added_p50": through["p50"] - direct["p50"],
                            "added_p99": through["p99"] - direct["p99"],
                            "errors": direct["non2xx"] + through["non2xx"],
                            "rss": rss_mb(pid),
                        }
                    )
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"commit {commit}; wrk -t1, {args.seconds}s per run, median of {args.rounds} interleaved rounds"
        )
        competitors = [c for c in ("litellm", "portkey") if shutil.which(c)]
        print(f"LiteLLM / Portkey: {', '.join(competitors) or 'not installed (not measured)'}")
        print(
            "scenario                  | conns | direct rps | gateway rps | CPU ms/req | added p50 | added p99 "
            "| RSS MB | errors"
        )
        for (name, connections), runs in samples.items():

            def med(field: str) -> float:
                return statistics.median(r[field] for r in runs)

            print(
                f"{name:25s} | {connections:5d} | {med('direct_rps'):10.0f} | {med('rps'):11.0f} |"
                f" {med('cpu_ms'):10.3f} | {med('added_p50'):7.2f}ms | {med('added_p99'):7.2f}ms |"
                f" {max(r['rss'] for r in runs):6.1f} | {sum(r['errors'] for r in runs)}"
            )
    finally:
        gateway.stop()
        fake.stop()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
