"""The pipeline and the rest of the core never import the API layer (routers depend on the core, not the reverse)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[3] / "src" / "gateway"
ROUTERS = SRC / "api"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_core_module_imports_gateway_api() -> None:
    offenders = {
        str(path.relative_to(SRC)): sorted(
            n for n in _imports(path) if n == "gateway.api" or n.startswith("gateway.api.")
        )
        for path in SRC.rglob("*.py")
        if ROUTERS not in path.parents and path.name != "app.py"  # app.py assembles the routers
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_pipeline_knows_no_web_framework() -> None:
    for path in (SRC / "pipeline").glob("*.py"):
        assert not {n for n in _imports(path) if n.split(".")[0] in ("fastapi", "starlette")}, path.name
