"""What every HTTP text-to-speech adapter checks on a vendor's 2xx: the billed characters the vendor reported in a
header (else the characters we sent), and that the body is audio at all (a JSON/text 2xx from a broken proxy or an
unexpected answer must not be relayed to the client as sound)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import httpx

from gateway.errors import ErrorClass, ProviderError
from providers.base import AUDIO_CONTENT_TYPES, SynthesisRequest, SynthesisResult
from providers.http import iter_body


def billed_characters(headers: Mapping[str, str], header: str, text: str) -> int:
    value = (headers.get(header) or "").strip()
    return int(value) if value.isdigit() else len(text)


def check_audio_response(provider: str, content_type: str | None) -> None:
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind.startswith("text/") or kind.endswith("json"):
        raise ProviderError(provider, ErrorClass.MALFORMED, f"expected audio, got {kind}")


def pcm_duration_media_type(request: SynthesisRequest, default_rate: int) -> str | None:
    """How to measure the audio later: from its own headers; raw PCM at the rate we asked the vendor for."""
    return f"audio/pcm; rate={request.sample_rate or default_rate}" if request.format == "pcm" else None


def audio_result(
    provider: str,
    response: httpx.Response,
    request: SynthesisRequest,
    *,
    model: str,
    billed_header: str,
    duration_media_type: str | None,
) -> SynthesisResult:
    """A whole-body 2xx as a result: checked to be audio, non-empty, billed by the vendor's character header."""
    check_audio_response(provider, response.headers.get("content-type"))
    if not response.content:
        raise ProviderError(provider, ErrorClass.MALFORMED, "empty audio body")
    return SynthesisResult(
        audio=response.content,
        content_type=AUDIO_CONTENT_TYPES[request.format],
        model=model,
        characters=billed_characters(response.headers, billed_header, request.text),
        duration_media_type=duration_media_type,
    )


async def audio_chunks(provider: str, response: httpx.Response) -> AsyncIterator[bytes]:
    """A streamed 2xx's body, once its content type proved it is audio."""
    check_audio_response(provider, response.headers.get("content-type"))
    async for chunk in iter_body(provider, response):
        yield chunk
