"""``runtimes.workers.import_phase``: the Worker's import phase runs with the garbage collector off and without
``pydantic.v1``; on CPython its end puts the collector back as it was and freezes nothing (under Pyodide it freezes:
the edge tier imports ``entry`` there and serves requests after it). A fresh interpreter per case: both are
process-wide."""

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


def test_the_import_phase_runs_with_the_collector_off_and_ends_as_it_began() -> None:
    out = run_python(
        """
        import gc, sys
        from runtimes.workers import import_phase
        import gateway.app
        from gateway.api import voice
        print(gc.isenabled(), sys.modules.get("pydantic.v1") is None)
        import_phase.end()
        print(gc.isenabled(), gc.get_freeze_count())
        """
    )
    assert out.splitlines() == ["False True", "True 0"]


def test_a_process_without_the_collector_keeps_it_off() -> None:
    out = run_python(
        """
        import gc
        gc.disable()
        from runtimes.workers import import_phase
        import_phase.end()
        print(gc.isenabled())
        """
    )
    assert out == "False"
