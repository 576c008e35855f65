"""What makes a local server process start fast (bench/coldstart measures each): ``begin`` first thing in a process
that will serve, ``accepting`` once it accepts connections.

Start-up allocates some 100,000 objects that live as long as the process (modules, classes, routes, schemas) and
almost no garbage (under 600 unreachable objects after ``voice-gateway dev`` starts). The cyclic garbage collector
would walk that growing heap again and again while it is built: about a tenth of the start-up CPU. So collection is
off until the server accepts; then everything built so far is frozen (``gc.freeze``: never walked again, which also
spares every later full collection while serving ~15 ms) and collection resumes.
"""

from __future__ import annotations

import gc
import sys


def begin() -> None:
    """Called by ``voice-gateway dev`` and each ``--workers`` process before they import the app."""
    gc.disable()
    # FastAPI checks every route parameter for a pydantic v1 model, importing ``pydantic.v1`` to do so (~15 ms; the
    # gateway has no v1 model). Marked absent, the check finds none. Only if nothing imported it yet.
    sys.modules.setdefault("pydantic.v1", None)  # type: ignore[arg-type]


def accepting() -> None:
    """The server accepts connections: freeze what start-up built and collect garbage again. Only undoes ``begin``:
    a process whose collector was not turned off by it (a test) is left alone."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
