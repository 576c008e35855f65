"""Authenticating Vapi server messages.

Vapi sends the server URL's configured secret as a header: ``X-Vapi-Secret`` (the original ``server.secret``) or,
in the current docs' "secret token" wording, ``X-Vapi-Signature``. With an HMAC custom credential it signs instead:
``x-signature`` = hex HMAC-SHA256(secret, ``{x-timestamp}.{body}``) (Vapi's HMACAuthenticationPlan defaults).
No secret configured means nothing is accepted.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

MAX_SKEW_MS = 5 * 60 * 1000


def sign_hmac(secret: str, raw: bytes, timestamp: str) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256).hexdigest()


def verify(secret: str | None, headers: Mapping[str, str], raw: bytes, now_ms: int) -> bool:
    if not secret:
        return False
    for name in ("x-vapi-secret", "x-vapi-signature"):
        value = headers.get(name)
        if value is not None and hmac.compare_digest(value.encode(), secret.encode()):
            return True
    signature, timestamp = headers.get("x-signature"), headers.get("x-timestamp")
    if not signature or not timestamp or not timestamp.isdigit():
        return False
    stamp = int(timestamp)
    stamp_ms = stamp * 1000 if stamp < 10**11 else stamp  # seconds or milliseconds
    if abs(now_ms - stamp_ms) > MAX_SKEW_MS:
        return False
    expected = sign_hmac(secret, raw, timestamp)
    return hmac.compare_digest(signature.removeprefix("sha256=").encode(), expected.encode())
