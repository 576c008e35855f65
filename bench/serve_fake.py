"""Serve one vendor fake as its own process for benchmarks: ``python -m bench.serve_fake openai 9001``."""

from __future__ import annotations

import importlib
import sys

import uvicorn
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.fakes.harness import FakeState


def main() -> None:
    vendor, port = sys.argv[1], int(sys.argv[2])
    app = importlib.import_module(f"tests.fakes.{vendor}").create_app(FakeState())
    app.router.routes.append(Route("/", lambda request: PlainTextResponse("ok")))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
