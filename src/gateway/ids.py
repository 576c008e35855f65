"""Identifiers. Random only at call time (Workers forbid randomness at import time)."""

from __future__ import annotations

import os
import random
import secrets


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


_ids: random.Random | None = None


def new_request_id() -> str:
    """Unique, not secret (it is echoed in headers and logs): a generator seeded from the OS once per process —
    lazily, at the first request — instead of a system call per request."""
    global _ids
    if _ids is None:
        _ids = random.Random(secrets.token_bytes(32))
    return f"req_{_ids.getrandbits(96):024x}"


def _reseed_after_fork() -> None:
    global _ids
    _ids = None  # a forked child must not repeat its parent's ids


if hasattr(os, "register_at_fork"):  # not on every platform (Pyodide)
    os.register_at_fork(after_in_child=_reseed_after_fork)
