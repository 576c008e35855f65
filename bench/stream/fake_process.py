"""Serve one vendor fake in its own process (so the benchmark does not measure GIL contention with the fake).

``python bench/stream/fake_process.py <module> <port>`` — ``module`` is a ``tests.fakes`` module name.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

import uvicorn  # noqa: E402

from tests.fakes.harness import FakeState  # noqa: E402

if __name__ == "__main__":
    module, port = sys.argv[1], int(sys.argv[2])
    state = FakeState()
    state.options.update({"seconds": 0.2, "idle_timeout": 120})  # short audio: measure transport, not synthesis
    app = importlib.import_module(f"tests.fakes.{module}").create_app(state)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="websockets-sansio")
