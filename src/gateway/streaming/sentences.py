"""Split text into sentences: the units a TTS stream tracks as delivered and can hand to another vendor.

Deliberately simple and predictable: a sentence ends at ``.``, ``!``, ``?`` (or their CJK forms, or ``…``) followed
by whitespace or the end, keeping closing quotes/brackets with it; common abbreviations and decimals do not end one.
Over-long sentences are cut at the last comma/semicolon/space before ``max_chars`` so every piece fits every vendor.
"""

from __future__ import annotations

import re

_END = re.compile(r"""([.!?…。！？]+["'”’)\]]*)(\s+|$)""")
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "inc",
        "ltd",
        "co",
        "corp",
        "no",
        "fig",
        "approx",
        "dept",
        "est",
    ]
)
DEFAULT_MAX_CHARS = 1000


def _ends_sentence(text: str, match: re.Match[str]) -> bool:
    if match.group(1).startswith(".") and len(match.group(1)) == 1:
        word = text[: match.start()].rsplit(None, 1)[-1].lower() if text[: match.start()].strip() else ""
        if word.rstrip(".") in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
            return False  # "Dr. Smith", "J. Doe"
    return True


def _cut_long(sentence: str, max_chars: int) -> list[str]:
    pieces: list[str] = []
    rest = sentence
    while len(rest) > max_chars:
        window = rest[:max_chars]
        cut = max(window.rfind(", "), window.rfind("; "), window.rfind(": "))
        cut = cut + 1 if cut > max_chars // 3 else window.rfind(" ")
        if cut <= 0:
            cut = max_chars
        pieces.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    if rest:
        pieces.append(rest)
    return pieces


def split_sentences(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> list[str]:
    """Non-empty, stripped pieces whose concatenation (with single spaces) says the whole text."""
    out: list[str] = []
    start = 0
    for match in _END.finditer(text):
        if not _ends_sentence(text, match):
            continue
        piece = text[start : match.end(1)].strip()
        if piece:
            out.append(piece)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return [part for sentence in out for part in _cut_long(sentence, max_chars)]
