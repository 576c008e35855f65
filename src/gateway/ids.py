"""Identifiers. Random only at call time (Workers forbid randomness at import time)."""

from __future__ import annotations

import os
import random
import secrets


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def new_row_id(prefix: str) -> str:
    """An id for an internal row or lease (usage rows, admission leases): unique, never shown as a secret, made
    per request — from the seeded generator, not a system call each (like request ids)."""
    return f"{prefix}_{_generator().getrandbits(96):024x}"


_ids: random.Random | None = None


def new_request_id() -> str:
    """Unique, not secret (it is echoed in headers and logs): a generator seeded from the OS once per process —
    lazily, at the first request — instead of a system call per request."""
    return f"req_{_generator().getrandbits(96):024x}"


def _generator() -> random.Random:
    global _ids
    if _ids is None:
        _ids = random.Random(secrets.token_bytes(32))
    return _ids


def _reseed_after_fork() -> None:
    global _ids
    _ids = None  # a forked child must not repeat its parent's ids


if hasattr(os, "register_at_fork"):  # not on every platform (Pyodide)
    os.register_at_fork(after_in_child=_reseed_after_fork)
