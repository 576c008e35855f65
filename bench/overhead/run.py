"""What the gateway adds to a request: the same TTS request sent straight to the fake OpenAI server and through the
local gateway (auth, limits, routing, failover bookkeeping and usage accounting all on), measured by wrk in one run.

    uv run python -m bench.overhead.run [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil

from bench._procs import start_fake, start_gateway, wrk

TEXT = "Hello from the benchmark."


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    fake, fake_url = start_fake("openai")
    env = {"OPENAI_API_KEY": "test-openai-key", "OPENAI_BASE_URL": f"{fake_url}/v1",
           "REQUEST_DEADLINE_SECONDS": "30"}
    gateway, gw_url, key, state = start_gateway(env)
    try:
        direct_body = json.dumps({"model": "tts-1", "input": TEXT, "voice": "alloy"})
        direct_headers = {"Authorization": "Bearer test-openai-key", "Content-Type": "application/json"}
        gw_body = json.dumps({"text": TEXT, "provider": "openai"})
        gw_headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        rows = []
        for connections in (1, 32):
            wrk(f"{fake_url}/v1/audio/speech", direct_body, direct_headers, connections=connections, seconds=2)
            wrk(f"{gw_url}/voice/synthesize", gw_body, gw_headers, connections=connections, seconds=2)  # warm-up
            direct = wrk(f"{fake_url}/v1/audio/speech", direct_body, direct_headers, connections=connections,
                         seconds=args.seconds)
            through = wrk(f"{gw_url}/voice/synthesize", gw_body, gw_headers, connections=connections,
                          seconds=args.seconds)
            rows.append((connections, direct, through))
        print(f"machine: {platform.machine()} {platform.python_version()}, wrk -t1, {args.seconds}s per run")
        print("conns | direct rps | gateway rps | ratio | direct p50 | gateway p50 | added p50 | added p99 | errors")
        for connections, d, g in rows:
            print(
                f"{connections:5d} | {d['rps']:10.0f} | {g['rps']:11.0f} | {g['rps'] / d['rps']:5.2f} |"
                f" {d['p50']:8.2f}ms | {g['p50']:9.2f}ms | {g['p50'] - d['p50']:7.2f}ms |"
                f" {g['p99'] - d['p99']:7.2f}ms | {d['non2xx'] + g['non2xx']}"
            )
    finally:
        gateway.stop()
        fake.stop()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
