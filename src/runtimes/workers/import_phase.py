"""The Worker's import phase (``src/entry.py``, which workerd runs once per deploy and snapshots): importing this
module begins it, ``end()`` ends it. The same as the local server's start-up (``runtimes.local.startup``):

- the cyclic garbage collector is off while the app's modules build their ~100,000 long-lived objects (it would walk
  the growing heap again and again: bench/edge measures the difference), and at the end, under Pyodide, what was built
  is frozen (``gc.freeze``): neither the snapshot's first requests nor any later full collection walk it again;
- FastAPI's check of every route parameter for a pydantic v1 model does not import ``pydantic.v1``.

On CPython (tests import ``entry``) the collector is put back as it was and nothing is frozen.
"""

from __future__ import annotations

import gc
import sys

_collecting = gc.isenabled()
gc.disable()
sys.modules.setdefault("pydantic.v1", None)  # type: ignore[arg-type]  # unless something imported it already


def end() -> None:
    if sys.platform == "emscripten":
        gc.freeze()
    if _collecting:
        gc.enable()
