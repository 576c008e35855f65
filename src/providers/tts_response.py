"""What every HTTP text-to-speech adapter checks on a vendor's 2xx: the billed characters the vendor reported in a
header (else the characters we sent), and that the body is audio at all (a JSON/text 2xx from a broken proxy or an
unexpected answer must not be relayed to the client as sound)."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.errors import ErrorClass, ProviderError


def billed_characters(headers: Mapping[str, str], header: str, text: str) -> int:
    value = (headers.get(header) or "").strip()
    return int(value) if value.isdigit() else len(text)


def check_audio_response(provider: str, content_type: str | None) -> None:
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind.startswith("text/") or kind.endswith("json"):
        raise ProviderError(provider, ErrorClass.MALFORMED, f"expected audio, got {kind}")
