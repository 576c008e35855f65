"""Whisper and Deepgram Nova-3 on Workers AI: request shapes and result parsing (pure, no I/O).

- ``@cf/openai/whisper``: the REST body is the raw audio; the binding takes ``{"audio": [0..255, …]}``. Result
  ``{"text", "word_count", "words": [{"word", "start", "end"}], "vtt"}`` (workers-ai-models/whisper.json).
- ``@cf/deepgram/nova-3``: the binding takes ``{"audio": {"body", "contentType"}, …options}``
  (workers-ai-models/nova-3.json). Over REST a JSON body cannot carry the audio stream, so the raw audio goes as the
  body with its ``Content-Type`` and the options as query parameters — the shape callers report working against the
  live REST endpoint [3P]. The result is Deepgram-shaped (``results.channels[].alternatives[]``); live answers have
  been seen without ``metadata`` [3P].
"""

from __future__ import annotations

from typing import Any

from gateway.errors import ErrorClass, ProviderError
from providers.base import TranscriptionRequest, TranscriptionResult, Word

from .api import PROVIDER_ID

WHISPER = "@cf/openai/whisper"
NOVA_3 = "@cf/deepgram/nova-3"


def _malformed(what: str) -> ProviderError:
    return ProviderError(PROVIDER_ID, ErrorClass.MALFORMED, f"unexpected transcription result: {what}")


def _words(items: Any, *, prefer_punctuated: bool = False) -> list[Word]:
    if items is None:
        return []
    if not isinstance(items, list):
        raise _malformed("words is not a list")
    words = []
    for item in items:
        if not isinstance(item, dict):
            raise _malformed("a word is not an object")
        text = (item.get("punctuated_word") if prefer_punctuated else None) or item.get("word") or ""
        try:
            words.append(
                Word(
                    word=str(text),
                    start=float(item.get("start", 0.0)),
                    end=float(item.get("end", 0.0)),
                    confidence=float(item["confidence"]) if item.get("confidence") is not None else None,
                    speaker=item.get("speaker"),
                )
            )
        except (TypeError, ValueError):
            raise _malformed("a word has a non-numeric time") from None
    return words


def billed_duration(request: TranscriptionRequest, words: list[Word]) -> float:
    """What we bill when the vendor reports no duration.

    The last word's end is where speech stops, not where the audio does (trailing silence is billed too), so the
    gateway's own measurement of the audio wins. Only when it could not measure (a container it cannot read) do we
    fall back to the last word's end: a lower bound, never a guess from byte counts.
    """
    if request.duration is not None:
        return request.duration
    return max((w.end for w in words), default=0.0)


def parse_whisper(result: Any, request: TranscriptionRequest, model: str = WHISPER) -> TranscriptionResult:
    if not isinstance(result, dict) or not isinstance(result.get("text"), str):
        raise _malformed("whisper result has no text")
    words = _words(result.get("words"))
    # Whisper reports no audio duration (see billed_duration for why the last word's end is not one).
    return TranscriptionResult(
        text=result["text"].strip(),
        words=words,
        confidence=None,
        duration=billed_duration(request, words),
        model=model,
        language=request.language,
    )


def nova_options(request: TranscriptionRequest) -> dict[str, Any]:
    """Deepgram options shared by the REST query and the binding's inputs."""
    options: dict[str, Any] = {"punctuate": request.punctuate, "smart_format": request.punctuate}
    if request.diarize:
        options["diarize"] = True
    if request.language:
        options["language"] = request.language
    return options


def nova_query(request: TranscriptionRequest) -> dict[str, str]:
    return {
        key: (str(value).lower() if isinstance(value, bool) else str(value))
        for key, value in nova_options(request).items()
    }


def parse_nova(result: Any, request: TranscriptionRequest, model: str = NOVA_3) -> TranscriptionResult:
    try:
        channel = result["results"]["channels"][0]
        alternative = channel["alternatives"][0]
        transcript = alternative["transcript"]
    except (KeyError, IndexError, TypeError):
        raise _malformed("nova-3 result has no transcript") from None
    if not isinstance(transcript, str):
        raise _malformed("transcript is not a string")
    words = _words(alternative.get("words"), prefer_punctuated=True)
    metadata = result.get("metadata") if isinstance(result.get("metadata"), dict) else {}
    reported = metadata.get("duration")
    confidence = alternative.get("confidence")
    return TranscriptionResult(
        text=transcript.strip(),
        words=words,
        confidence=float(confidence) if isinstance(confidence, (int, float)) else None,
        # Deepgram's metadata.duration is the billed length of the audio; without it, as for whisper.
        duration=float(reported) if isinstance(reported, (int, float)) else billed_duration(request, words),
        model=model,
        language=channel.get("detected_language") or request.language,
    )


def binding_inputs(model: str, request: TranscriptionRequest) -> dict[str, Any]:
    """The binding's documented input objects (reference/providers.md §7.3)."""
    if model == WHISPER:
        # The binding wants a plain array of byte values (``[...new Uint8Array(buf)]`` in the JS docs). A Python
        # list of ints costs ~8x the audio in memory: fine for voice clips, heavy for the 25 MB upload limit.
        return {"audio": list(request.audio)}
    return {"audio": {"body": request.audio, "contentType": request.content_type}, **nova_options(request)}
