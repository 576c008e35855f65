"""The console in a real browser: Debian's headless chromium driven by Selenium (Debian's chromedriver; nothing is
downloaded), against ``voice-gateway dev`` (a real process, the way a user starts it) with vendor fakes on loopback:
OpenAI (speech, chat) and Deepgram (HTTP and the realtime WebSocket APIs on one port).

Without chromium these tests skip; with ``CI=true`` they fail instead (scripts/browser-setup.sh installs it)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.audio import wav
from tests.fakes.harness import FakeServer, free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ADMIN_TOKEN = "console-admin-token"
# Every run saves a screenshot of each page into build/screenshots/ (ignored by git); the committed ones in
# docs/screenshots/ are refreshed with CONSOLE_SCREENSHOT_DIR=docs/screenshots uv run pytest tests/console.
SCREENSHOTS = ROOT / (os.environ.get("CONSOLE_SCREENSHOT_DIR") or "build/screenshots")
# What the fake microphone says: Deepgram's fake recognises constant-valued sample runs as words (tests/fakes).
SPOKEN = [0, 1, 2]


def _require_browser() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if not missing:
        return
    reason = f"{', '.join(missing)} not installed (run scripts/browser-setup.sh)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests cannot run in CI: {reason}")
    pytest.skip(reason)


def _deepgram_app(http_state: Any) -> Any:
    """Deepgram's HTTP fake and its WebSocket fake behind one base URL, as the real api.deepgram.com is."""
    from tests.fakes import deepgram, deepgram_ws
    from tests.fakes.harness import FakeState

    http_app, ws_app = deepgram.create_app(http_state), deepgram_ws.create_app(FakeState())

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await (ws_app if scope["type"] == "websocket" else http_app)(scope, receive, send)

    return app


@dataclass
class Console:
    url: str
    dev_key: str
    process: subprocess.Popen[bytes]
    log: Path
    fakes: dict[str, Any]  # vendor id → its fake's FakeState (fault injection)

    def api(self, method: str, path: str, key: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key or ADMIN_TOKEN}"}
        return httpx.request(method, self.url + path, headers=headers, timeout=30, **kwargs)


def _executable() -> list[str]:
    script = Path(sys.executable).parent / "voice-gateway"
    return [str(script)] if script.exists() else [sys.executable, "-m", "runtimes.local.cli"]


@pytest.fixture(scope="session")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    _require_browser()
    from tests.fakes import openai

    openai_fake = FakeServer(None)  # type: ignore[arg-type]
    openai_fake.app = openai.create_app(openai_fake.state)
    from tests.fakes.harness import FakeState

    deepgram_state = FakeState()
    deepgram_fake = FakeServer(_deepgram_app(deepgram_state), deepgram_state)
    state = tmp_path_factory.mktemp("console-state")
    port = free_port()
    env = {
        **os.environ, "ADMIN_TOKEN": ADMIN_TOKEN, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
        "OPENAI_API_KEY": "test-openai-key", "OPENAI_BASE_URL": f"{openai_fake.url}/v1",
        "DEEPGRAM_API_KEY": "test-deepgram-key", "DEEPGRAM_BASE_URL": deepgram_fake.url,
        "REALTIME_STALL_SECONDS": "2", "REALTIME_CLOSE_TIMEOUT_SECONDS": "2",
    }  # fmt: skip
    log = state / "server.log"
    with openai_fake, deepgram_fake, log.open("wb") as out:
        process = subprocess.Popen(
            [*_executable(), "dev", "--port", str(port), "--state-dir", str(state / "dev")],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            text = ""
            for _ in range(600):
                text = log.read_text(errors="replace")
                if "console:" in text and "VGW_KEY=" in text or process.poll() is not None:
                    break
                time.sleep(0.05)
            url = re.search(r"console: (http://\S+)/console/", text)
            key = re.search(r"export VGW_KEY=(\S+)", text)
            assert url and key, f"voice-gateway dev did not start:\n{text}"
            for _ in range(200):
                try:
                    if httpx.get(url.group(1) + "/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.05)
            yield Console(url.group(1), key.group(1), process, log,
                          {"openai": openai_fake.state, "deepgram": deepgram_state})  # fmt: skip
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="session")
def browser(console: Console, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from tests.fakes.deepgram_ws import silence, utterance

    profile = tmp_path_factory.mktemp("chromium-profile")
    microphone = profile.parent / "microphone.wav"
    microphone.write_bytes(wav(silence(0.5) + utterance(SPOKEN, word_seconds=0.4, pause=1.2)))
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", "--window-size=1400,1000", "--disable-dev-shm-usage",
                 "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                 f"--use-file-for-fake-audio-capture={microphone}",
                 "--autoplay-policy=no-user-gesture-required"):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    height = driver.execute_script(
        "window.scrollTo(0, 0); return Math.min(document.documentElement.scrollHeight, 2400)"
    )
    driver.set_window_size(1400, max(900, height))
    driver.save_screenshot(str(path))
    driver.set_window_size(1400, 1000)
    return path
