"""Identifiers. Random only at call time (Workers forbid randomness at import time)."""

from __future__ import annotations

import secrets


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def new_request_id() -> str:
    return f"req_{secrets.token_hex(12)}"
