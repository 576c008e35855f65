"""The cache key: a hash of everything that determines the audio, inside a scope.

Text is normalised only in ways that cannot change what a vendor says (Unicode NFC, runs of whitespace collapsed,
ends trimmed): "Hello  world " and "Hello world" are one entry, "hello world" is another (case can change prosody).
The vendor is part of the key only when the request pinned it; otherwise any vendor's rendering of the same request
is an acceptable answer, exactly as a failover would be. ``dialect`` keeps APIs apart whose same-looking fields mean
different things (an OpenAI voice name on ``/v1`` is mapped to an alias for other vendors; on ``/voice`` it is not).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass

from providers.base import SynthesisRequest

SHARED_SCOPE = "shared"
_SPACES = re.compile(r"\s+")
KEY_VERSION = 1  # bump when the key material changes meaning: old entries then simply stop matching


def normalise_text(text: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip()


def workspace_scope(workspace_id: str) -> str:
    return f"ws:{workspace_id}"


@dataclass(frozen=True)
class CacheKey:
    scope: str  # "ws:<workspace id>" or "shared"
    digest: str  # sha256 hex of the key material

    def __str__(self) -> str:
        return f"{self.scope}/{self.digest}"


def key_material(request: SynthesisRequest, *, pinned: str | None, dialect: str) -> dict[str, object]:
    return {
        "v": KEY_VERSION,
        "dialect": dialect,
        "text": normalise_text(request.text),
        "voice": request.voice,
        "model": request.model,
        "format": request.format,
        "sampleRate": request.sample_rate,
        "speed": request.speed,
        "language": request.language,
        "vendor": pinned,
    }


def derive_key(request: SynthesisRequest, *, scope: str, pinned: str | None, dialect: str = "voice") -> CacheKey:
    material = json.dumps(key_material(request, pinned=pinned, dialect=dialect), sort_keys=True, ensure_ascii=False)
    return CacheKey(scope, hashlib.sha256(material.encode()).hexdigest())
