"""Does the gateway's memory stay flat? Drives the local gateway (against ``bench.fast_fake``) with wrk at 32
connections, alternating TTS through ``/v1/audio/speech`` and ``/voice/synthesize`` and chat through
``/v1/chat/completions``, and prints the gateway process's RSS every 100k requests.

    uv run python -m bench.soak.run [--requests 1000000] [--every 100000]
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import time

from bench._procs import rss_mb, start_fast_fake, start_gateway, wrk
from bench.overhead.run import SCENARIOS


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--every", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    fake, fake_url = start_fast_fake()
    env = {"OPENAI_API_KEY": "test-openai-key", "OPENAI_BASE_URL": f"{fake_url}/v1", "REQUEST_DEADLINE_SECONDS": "30"}
    gateway, gw_url, key, state = start_gateway(env)
    pid = gateway.proc.pid
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    done = errors = 0
    mark = args.every
    started = time.monotonic()
    print(f"{'requests':>10} | {'RSS MB':>7} | {'req/s':>6} | errors", flush=True)
    print(f"{0:10d} | {rss_mb(pid):7.1f} |        | 0", flush=True)
    try:
        for path, body, _ in itertools.cycle(SCENARIOS.values()):
            if done >= args.requests:
                break
            result = wrk(gw_url + path, json.dumps(body), headers, connections=args.connections, seconds=5)
            done += result["requests"]
            errors += result["non2xx"]
            while done >= mark:
                print(
                    f"{mark:10d} | {rss_mb(pid):7.1f} | {done / (time.monotonic() - started):6.0f} | {errors}",
                    flush=True,
                )
                mark += args.every
    finally:
        gateway.stop()
        fake.stop()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
