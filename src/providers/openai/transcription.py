"""``POST /audio/transcriptions`` wire format: our TranscriptionRequest → multipart form; OpenAI's JSON → result.

whisper-1 is asked for ``verbose_json`` with word timestamps: that gives words and the audio ``duration`` it bills
per minute. The gpt-4o(-mini)-transcribe family accepts only ``json`` and bills tokens, which it reports in
``usage``; their duration comes from the gateway's own measurement (``request.duration``).
"""

from __future__ import annotations

from typing import Any

from gateway.audio import sniff_format
from gateway.errors import ErrorClass, ProviderError
from providers.base import TranscriptionRequest, TranscriptionResult, Unit, Word
from providers.openai.api import PROVIDER_ID

# OpenAI infers the container from the file name, so the extension must match the audio.
_EXTENSIONS = {
    "audio/wav": "wav",
    "audio/wave": "wav",
    "audio/x-wav": "wav",
    "audio/vnd.wave": "wav",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/ogg": "ogg",
    "audio/opus": "ogg",
    "audio/webm": "webm",
    "video/webm": "webm",
    "audio/flac": "flac",
    "audio/x-flac": "flac",
    "audio/mp4": "mp4",
    "video/mp4": "mp4",
    "audio/m4a": "m4a",
    "audio/x-m4a": "m4a",
}


def is_token_billed(model: str) -> bool:
    return not model.startswith("whisper")


def file_extension(content_type: str, audio: bytes) -> str:
    """The extension OpenAI will read the upload as: what the bytes are, else what the content type claims."""
    sniffed = sniff_format(audio)
    if sniffed:
        return sniffed  # wav mp3 ogg flac webm mp4: all names OpenAI accepts
    media = content_type.split(";")[0].strip().lower()
    if media in _EXTENSIONS:
        return _EXTENSIONS[media]
    raise ProviderError(PROVIDER_ID, ErrorClass.UNSUPPORTED, f"OpenAI cannot read {media or 'this audio'}")


def transcription_form(
    request: TranscriptionRequest, *, model: str
) -> tuple[dict[str, str], dict[str, tuple[str, bytes, str]]]:
    """(form fields, files) for ``httpx``'s ``data=`` / ``files=``."""
    if not request.audio:
        raise ProviderError(PROVIDER_ID, ErrorClass.INVALID_INPUT, "audio is empty")
    fields = {"model": model}
    if is_token_billed(model):
        fields["response_format"] = "json"
    else:
        fields["response_format"] = "verbose_json"
        fields["timestamp_granularities[]"] = "word"
    if request.language:
        fields["language"] = request.language.split("-")[0].split("_")[0].lower()  # ISO-639-1: "en-US" → "en"
    media = request.content_type.split(";")[0].strip() or "application/octet-stream"
    files = {"file": (f"audio.{file_extension(media, request.audio)}", request.audio, media)}
    return fields, files


def parse_transcription(body: Any, *, model: str, request: TranscriptionRequest) -> TranscriptionResult:
    if not isinstance(body, dict) or not isinstance(body.get("text"), str):
        raise ProviderError(PROVIDER_ID, ErrorClass.MALFORMED, "transcription has no text")
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    try:
        words = [Word(str(w["word"]).strip(), float(w["start"]), float(w["end"])) for w in body.get("words") or []]
        billed_tokens: dict[Unit, int] = {}
        if usage.get("type") == "tokens":
            billed_tokens = {
                Unit.INPUT_TOKEN: int(usage["input_tokens"]),
                Unit.OUTPUT_TOKEN: int(usage["output_tokens"]),
            }
        if body.get("duration") is not None:
            duration = float(body["duration"])
        elif usage.get("type") == "duration":
            duration = float(usage["seconds"])
        else:
            duration = request.duration or 0.0
    except (KeyError, TypeError, ValueError):
        raise ProviderError(PROVIDER_ID, ErrorClass.MALFORMED, "transcription fields have unexpected types") from None
    return TranscriptionResult(
        text=body["text"].strip(),
        words=words,
        confidence=None,  # OpenAI reports no confidence (only optional token logprobs)
        duration=duration,
        model=model,
        # verbose_json names the language in English ("english"); the caller's ISO code is more useful when given.
        language=request.language or body.get("language"),
        usage=billed_tokens,
    )
