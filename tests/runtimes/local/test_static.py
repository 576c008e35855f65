"""``voice-gateway dev`` prints the console's address and serves ``static/`` there (the local twin of Workers
Static Assets): the console and the docs' scripts, none of them from a CDN."""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx

from runtimes.local.static import static_dir
from tests.test_local_server import LocalServer

ROOT = Path(__file__).resolve().parents[3]


def test_dev_prints_the_console_url_and_serves_it(tmp_path: Path) -> None:
    server = LocalServer(tmp_path, {"ADMIN_TOKEN": "t", "PYTHONPATH": str(ROOT / "src")})
    try:
        server.wait_ready()
        printed = next(line for line in server.lines if "console:" in line)
        url = re.search(r"(http://\S+/console/)", printed)
        assert url and url.group(1) == f"{server.url}/console/"
        page = httpx.get(url.group(1), timeout=5)
        assert page.status_code == 200 and '<script type="module" src="app.js">' in page.text
        assert httpx.get(f"{server.url}/console", timeout=5, follow_redirects=True).url.path == "/console/"
        assets = ("/console/app.js", "/console/vendor/chart.js/chart.umd.min.js",
                  "/docs-assets/swagger-ui/swagger-ui-bundle.js", "/docs-assets/redoc/redoc.standalone.js")  # fmt: skip
        for asset in assets:
            assert httpx.get(server.url + asset, timeout=5).status_code == 200, asset
        docs = httpx.get(f"{server.url}/docs", timeout=5).text
        assert "/docs-assets/swagger-ui/swagger-ui-bundle.js" in docs
        missing = httpx.get(f"{server.url}/nope", timeout=5)
        assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found"  # API 404s untouched
    finally:
        server.stop()


def test_the_console_loads_nothing_from_another_origin() -> None:
    root = static_dir()
    assert root == ROOT / "static"
    for path in (root / "console").rglob("*"):
        if path.suffix in (".html", ".js", ".css") and "vendor" not in path.parts:
            text = path.read_text()
            assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), path
            assert "cdn" not in text.lower() and "import(" not in text, path
    assert os.path.getsize(root / "console" / "vendor" / "chart.js" / "LICENSE.md") > 0
