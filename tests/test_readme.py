"""The README's examples, run as written against a freshly started local server with no vendor account.

The commands are parsed out of README.md (so this fails when the README drifts from what works): the ``sh`` blocks
of "Try it" and "Realtime in five minutes", and the OpenAI SDK snippet. Two things differ from a reader's terminal,
both mechanical: the server listens on a free port instead of 8787 (curl URLs are rewritten; the realtime client
reads ``VGW_URL``), and ``uv run X`` runs ``X`` from the test's own
environment (the same project environment ``uv run`` would use). ``<id>`` is the workspace id the first admin call
returned, as a reader would paste it.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_local_server import LocalServer

try:  # the built-in engine serves every offline example; CI installs it (the default groups), so there it must be
    import espeakng_loader  # noqa: F401
    import pocketsphinx  # noqa: F401
except ImportError as missing:
    if os.environ.get("CI") == "true":
        raise
    pytest.skip(f"the built-in engine is not installed ({missing})", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DEFAULT_URL = "http://127.0.0.1:8787"
CONTENT_WORDS = {"hello", "world", "test", "gateway"}


def section(text: str, heading: str) -> str:
    start = text.index(f"## {heading}\n")
    following = text.find("\n## ", start + 1)
    return text[start : following if following != -1 else len(text)]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def commands(block: str) -> list[str]:
    """Shell commands of a block: continuation lines joined, comments and blank lines dropped."""
    out: list[str] = []
    pending = ""
    for raw in block.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        pending += line[:-1] + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            out.append(pending)
            pending = ""
    return out


def readme_examples() -> tuple[list[str], str]:
    text = README.read_text()
    shell = [c for heading in ("Try it", "Realtime in five minutes") for b in blocks(section(text, heading), "sh")
             for c in commands(b)]  # fmt: skip
    python = [b for b in blocks(text, "python") if "OpenAI(" in b]
    assert len(python) == 1, "the README has one OpenAI SDK snippet"
    return shell, python[0]


def test_every_readme_example_runs_offline_on_a_fresh_server(tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("curl is needed to run the README's examples (apt-get install curl)")
        pytest.skip("curl is not installed: the README's examples use it")
    shell, snippet = readme_examples()
    env = {"PYTHONPATH": str(ROOT / "src"), "LOCAL_REALTIME_SESSIONS": "2"}
    (tmp_path / ".state").mkdir()
    server = LocalServer(tmp_path / ".state", env)  # no vendor key: LocalServer drops every *_API_KEY
    try:
        server.wait_ready(60)
        key = server.dev_key()
        run_env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
        run_env.update(VGW_KEY=key, VGW_URL=server.url, PYTHONPATH=env["PYTHONPATH"],
                       PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")  # fmt: skip
        # .state/admin-token is where a reader's first start leaves it: the server's state dir is tmp/.state
        workspace_id = ""
        ran: list[str] = []
        prelude = ""  # shell variables an earlier line set (ADMIN=$(cat ...)), as in the reader's one terminal
        for command in shell:
            if command.startswith("export VGW_KEY="):
                continue  # the reader pastes the printed key: here it is in the environment already
            if command.startswith("pip install uv && uv run voice-gateway dev"):
                continue  # the server this test started
            line = command.replace(DEFAULT_URL, server.url).replace("<id>", workspace_id)
            line = re.sub(r"(^|&& )uv run ", r"\1", line)
            if re.match(r"^[A-Z_]+=\$\(", line):
                prelude += line + "; "
            done = subprocess.run(
                ["bash", "-c", prelude + line], check=False, cwd=tmp_path, env=run_env, capture_output=True, timeout=120
            )
            assert done.returncode == 0, (command, done.stderr.decode()[-2000:])
            out = done.stdout.decode()
            print(f"$ {command}\n{out}")
            ran.append(check(command, out, tmp_path))
            if "/admin/workspaces " in command + " " and "-X POST" in command and "/keys" not in command:
                workspace_id = json.loads(out)["id"]
        expected = {"synthesize", "transcribe", "health", "usage", "admin-token", "workspace", "key",
                    "workspace-provider", "realtime"}  # fmt: skip
        assert expected <= set(ran), f"README examples not found or not checked: {expected - set(ran)}"

        # The SDK snippet, with the server's address and the key a reader would paste.
        code = snippet.replace(DEFAULT_URL, server.url).replace('"vgw_..."', repr(key))
        done = subprocess.run([sys.executable, "-c", code], check=False, cwd=tmp_path, env=run_env, capture_output=True,
                              timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        import soundfile

        written = re.search(r'write_to_file\("([^"]+)"\)', snippet)
        assert written is not None
        audio = (tmp_path / written.group(1)).read_bytes()
        info = soundfile.info(io.BytesIO(audio))
        assert info.format == "MP3" and info.duration > 0.15  # a playable mp3 of "Hi!", offline
    finally:
        server.stop()


def check(command: str, out: str, cwd: Path) -> str:
    """Assert on one README command's output; returns which example it was."""
    if "/voice/synthesize" in command:
        assert "x-provider: local" in out.lower(), out
        assert (cwd / "hello.wav").read_bytes()[:4] == b"RIFF"
        return "synthesize"
    if "/voice/transcribe" in command:
        body = json.loads(out)
        assert body["provider"] == "local" and len(CONTENT_WORDS & set(body["text"].split())) >= 2, body
        return "transcribe"
    if "/voice/providers/health" in command:
        assert json.loads(out)["local"]["status"] != "unconfigured"
        return "health"
    if command.endswith('/usage -H "Authorization: Bearer $VGW_KEY"') or "/usage " in command:
        assert "error" not in json.loads(out), out
        return "usage"
    if command.startswith("ADMIN=$(cat .state/admin-token)"):
        return "admin-token"
    if "/keys" in command:
        assert json.loads(out)["key"].startswith("vgw_"), out
        return "key"
    if "/providers/" in command:
        assert json.loads(out)["enabled"] is True, out
        return "workspace-provider"
    if "/admin/workspaces" in command:
        assert json.loads(out)["name"] == "acme", out
        return "workspace"
    if "voice-gateway realtime" in command:
        assert " final " in out and "EndOfTurn" in out and " end " in out, out
        finals = " ".join(line.split("] ", 1)[1] for line in out.splitlines() if " final " in line)
        assert len(CONTENT_WORDS & set(finals.split())) >= 2, out
        return "realtime"
    raise AssertionError(f"a README command this test does not check yet: {command}")
