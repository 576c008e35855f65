"""Authenticating Retell webhooks, as the official SDKs do (``retell-sdk`` ``lib/webhook_auth``, symmetric mode).

``x-retell-signature: v=<epoch ms>,d=<hex HMAC-SHA256(api key, body + str(epoch ms))>``; a signature more than five
minutes from now is refused. The key is the Retell API key of the account that placed the call.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping

FIVE_MINUTES_MS = 5 * 60 * 1000
_SIGNATURE = re.compile(r"v=(\d+),d=([0-9a-fA-F]+)")


def sign(raw: bytes, api_key: str, timestamp_ms: int) -> str:
    digest = hmac.new(api_key.encode(), raw + str(timestamp_ms).encode(), hashlib.sha256).hexdigest()
    return f"v={timestamp_ms},d={digest}"


def verify(api_key: str | None, headers: Mapping[str, str], raw: bytes, now_ms: int) -> bool:
    header = headers.get("x-retell-signature")
    if not api_key or not header:
        return False
    match = _SIGNATURE.fullmatch(header.strip())
    if match is None:
        return False
    stamp = int(match.group(1))
    if abs(now_ms - stamp) > FIVE_MINUTES_MS:
        return False
    expected = sign(raw, api_key, stamp).encode()
    return hmac.compare_digest(header.strip().lower().encode(), expected)
