"""JSON from clients, parsed with bounded depth.

``json.loads`` recurses once per nesting level: ``[`` × 1000 (2 KB) raises ``RecursionError`` — not a
``ValueError`` — and a few hundred levels that do parse still blow up whatever walks the value next (validation,
``json.dumps`` into storage). No request needs more than a handful of levels, so anything nested deeper than
``MAX_DEPTH`` is refused before it is parsed: a cheap scan of the brackets outside strings, then the parse itself
with ``RecursionError`` mapped too (Pyodide's stack is smaller than CPython's).
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

MAX_DEPTH = 32
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class TooDeep(ValueError):
    """The JSON nests deeper than ``MAX_DEPTH`` (a ValueError: callers treating bad JSON as such stay correct)."""


def nesting_depth(text: str) -> int:
    """The deepest bracket nesting of ``text`` outside strings (an upper bound for malformed text)."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:  # the common case: too few brackets to nest too deep
        return MAX_DEPTH
    steps = [_STEP[m] for m in _BRACKET.findall(_STRING.sub("", text))]
    return max(accumulate(steps), default=0)


def loads(raw: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` that raises :class:`TooDeep` instead of recursing without bound (ValueError for bad JSON)."""
    text = raw.decode(json.detect_encoding(raw), "surrogatepass") if isinstance(raw, (bytes, bytearray)) else raw
    if nesting_depth(text) > max_depth:
        raise TooDeep(f"JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(text)
    except RecursionError:
        raise TooDeep(f"JSON nested deeper than {max_depth} levels") from None
