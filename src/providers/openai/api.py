"""OpenAI endpoint config: base URL, auth header, paths, and how OpenAI's error bodies map onto our error classes.

OPENAI_BASE_URL already ends in ``/v1`` (``https://api.openai.com/v1``), so paths are appended without it.
"""

from __future__ import annotations

import re
from typing import Any

from gateway.errors import ErrorClass
from providers.base import Credentials
from providers.http import DescribeError

PROVIDER_ID = "openai"
DEFAULT_BASE_URL = "https://api.openai.com/v1"

SPEECH_PATH = "/audio/speech"
TRANSCRIPTIONS_PATH = "/audio/transcriptions"
CHAT_PATH = "/chat/completions"
MODELS_PATH = "/models"

# OpenAI's 401 echoes a masked fragment of the key ("Incorrect API key provided: sk-ab***yz."); even masked, it
# does not belong in our attempt log.
_KEY_ECHO = re.compile(r"(API key provided:\s*)\S+")


def url(credentials: Credentials, path: str) -> str:
    return credentials.base_url.rstrip("/") + path


def auth_headers(credentials: Credentials) -> dict[str, str]:
    return {"Authorization": f"Bearer {credentials.api_key or ''}"}


def describe_error(status: int, body: Any, text: str) -> tuple[str, ErrorClass | None]:
    """``{"error": {"message", "type", "param", "code"}}`` → (message, class override).

    OpenAI sends 429 both for "slow down" and for "out of credit": only the ``code`` tells them apart, and retrying
    an ``insufficient_quota`` is pointless.
    """
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return (text or f"HTTP {status}"), None
    message = str(error.get("message") or text or f"HTTP {status}")
    code = error.get("code")
    kind = error.get("type")
    override: ErrorClass | None = None
    if status == 429 and "insufficient_quota" in (code, kind):
        override = ErrorClass.QUOTA
    elif code == "invalid_api_key":
        override = ErrorClass.AUTH
    return _KEY_ECHO.sub(r"\1[redacted].", message), override


def describe_for(credentials: Credentials) -> DescribeError:
    """``describe_error`` that also scrubs the literal key, should a proxy in between echo it unmasked."""
    key = credentials.api_key

    def describe(status: int, body: Any, text: str) -> tuple[str, ErrorClass | None]:
        message, override = describe_error(status, body, text)
        if key:
            message = message.replace(key, "[redacted]")
        return message, override

    return describe
