"""``runtimes.local.startup``: the garbage collector is off while a server builds its app and back on (with the
start-up heap frozen) once it accepts; FastAPI's pydantic-v1 check does not import ``pydantic.v1``. Each case runs in
a fresh interpreter: both change process-wide state."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def run_python(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


APP = """
import asyncio, gc, hashlib, json, sys
from runtimes.local import startup
if BEGIN:
    startup.begin()
from gateway.app import create_app
from runtimes.local.runtime import build_local_runtime

async def main():
    runtime = await build_local_runtime(None, {})
    app = create_app(runtime)
    print("while building:", gc.isenabled(), gc.get_freeze_count())
    print("pydantic.v1 imported:", sys.modules.get("pydantic.v1") is not None)
    document = json.dumps(app.openapi(), sort_keys=True).encode()  # every route, parameter and schema
    print("openapi:", hashlib.sha256(document).hexdigest())
    startup.accepting()
    print("accepting:", gc.isenabled(), gc.get_freeze_count() > 50_000)
    for close in runtime.on_close:
        await close()

asyncio.run(main())
"""


def test_the_collector_is_off_while_the_app_is_built_and_on_with_the_heap_frozen_once_accepting() -> None:
    begun = run_python("BEGIN = True\n" + APP).splitlines()
    assert begun[:2] == ["while building: False 0", "pydantic.v1 imported: False"]
    assert begun[3] == "accepting: True True"
    plain = run_python("BEGIN = False\n" + APP).splitlines()
    assert plain[:2] == ["while building: True 0", "pydantic.v1 imported: True"]  # FastAPI imports it unasked
    assert plain[3] == "accepting: True False"
    assert begun[2] == plain[2]  # the same app: routes, parameters and schemas


def test_accepting_leaves_a_process_it_did_not_start_alone() -> None:
    """A test process or an embedding app keeps its collector as it was: nothing is frozen behind its back."""
    out = run_python(
        """
        import gc
        from runtimes.local import startup
        startup.accepting()
        print(gc.isenabled(), gc.get_freeze_count())
        """
    )
    assert out == "True 0"


def test_begin_keeps_a_pydantic_v1_that_is_already_imported() -> None:
    out = run_python(
        """
        import sys, warnings
        warnings.simplefilter("ignore")
        import pydantic.v1
        from runtimes.local import startup
        startup.begin()
        from pydantic import v1
        print(v1 is sys.modules["pydantic.v1"] is not None)
        """
    )
    assert out == "True"
