"""The local runtime: the Worker's ports on CPython (SQLite for D1 and KV, asyncio tasks) and the dev server."""

import sys

# httpx imports its command-line client at import time whenever click, rich and pygments happen to be installed (a
# development environment has them): 0.2-0.5 s of a 0.5 s start budget for a CLI the gateway never uses. Marking it
# absent makes httpx fall back to its stub. Only when httpx is not imported yet, so nothing already loaded changes.
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
