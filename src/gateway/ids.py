"""Identifiers. Random only at call time (Workers forbid randomness at import time)."""

from __future__ import annotations

import os
import random
import secrets
import time as _time


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def new_row_id(prefix: str) -> str:
    """An id for an internal row or lease (usage rows, admission leases): unique, never a secret, made per request —
    time-ordered like request ids (see there)."""
    return _ordered(prefix)


_ids: random.Random | None = None


def new_request_id() -> str:
    """Unique, not secret (it is echoed in headers and logs), time-ordered: its random part from a generator seeded
    from the OS once per process — lazily, at the first request — instead of a system call per request."""
    return _ordered("req")


def _ordered(prefix: str) -> str:
    """``prefix_`` + 12 hex digits of the epoch millisecond + 12 random: ids made later sort later, so the tables
    keyed by them (usage rows, the request log, rate admissions) append at the end of their B-trees instead of
    dirtying a random page per insert; 48 random bits keep ids unique within a millisecond and across processes."""
    return f"{prefix}_{int(_time.time() * 1000):012x}{_generator().getrandbits(48):012x}"


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
