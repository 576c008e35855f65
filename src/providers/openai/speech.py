"""``POST /audio/speech`` wire format: our SynthesisRequest → OpenAI's JSON body; OpenAI's audio (binary or SSE) back.

tts-1 / tts-1-hd answer with the raw audio and report no usage: they bill ``len(input)`` characters.
gpt-4o-mini-tts bills tokens, which OpenAI reports only in the ``speech.audio.done`` event of a
``stream_format=sse`` response, so for every model other than tts-1* the adapter asks for SSE and decodes the
base64 deltas itself; that way its cost is always the vendor's own count, never a guess.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any

from gateway.errors import ErrorClass, ProviderError
from providers.base import AUDIO_CONTENT_TYPES, SynthesisRequest, Unit
from providers.openai.api import PROVIDER_ID
from providers.tts_response import check_audio_response

VOICES = frozenset(
    {"alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse", "marin", "cedar"}
)
FORMATS = frozenset({"mp3", "wav", "pcm", "opus"})
SAMPLE_RATE = 24000  # pcm (and the wav around it) is 24 kHz 16-bit mono, not configurable
MAX_INPUT_CHARACTERS = 4096
MIN_SPEED, MAX_SPEED = 0.25, 4.0

# What each container starts with: a 2xx whose body starts otherwise is not the audio we asked for.
_MAGIC = {"wav": (b"RIFF",), "opus": (b"OggS",), "mp3": (b"ID3", b"\xff")}
MAGIC_BYTES = 4  # enough of the body to check any signature above


def is_character_billed(model: str) -> bool:
    return model.startswith("tts-1")  # tts-1, tts-1-hd (and their dated snapshots): no SSE, no usage


def speech_payload(request: SynthesisRequest, *, model: str, voice: str) -> dict[str, Any]:
    if not request.text:
        raise ProviderError(PROVIDER_ID, ErrorClass.INVALID_INPUT, "text is empty")
    if len(request.text) > MAX_INPUT_CHARACTERS:
        raise ProviderError(PROVIDER_ID, ErrorClass.UNSUPPORTED, f"text exceeds {MAX_INPUT_CHARACTERS} characters")
    if request.format not in FORMATS:
        raise ProviderError(PROVIDER_ID, ErrorClass.UNSUPPORTED, f"format {request.format!r} is not supported")
    if request.format in ("pcm", "wav") and request.sample_rate and request.sample_rate != SAMPLE_RATE:
        raise ProviderError(PROVIDER_ID, ErrorClass.UNSUPPORTED, f"{request.format} is only produced at 24000 Hz")
    payload: dict[str, Any] = {
        "model": model,
        "input": request.text,
        # Custom voices are addressed by id; named voices by name.
        "voice": {"id": voice} if voice.startswith("voice_") else voice,
        "response_format": request.format,
    }
    if request.speed is not None:
        payload["speed"] = clamp_speed(request.speed)
    if not is_character_billed(model):
        payload["stream_format"] = "sse"
    return payload


def clamp_speed(speed: float) -> float:
    """Out-of-range speeds are clamped rather than refused: a failover should still speak, just at the nearest
    speed this vendor allows."""
    if not math.isfinite(speed) or speed <= 0:
        raise ProviderError(PROVIDER_ID, ErrorClass.INVALID_INPUT, "speed must be a positive number")
    return min(MAX_SPEED, max(MIN_SPEED, float(speed)))


def check_audio(fmt: str, first_bytes: bytes, content_type: str | None) -> None:
    """Raise MALFORMED when a 2xx is plainly not audio (an HTML error page, JSON, the wrong container)."""
    check_audio_response(PROVIDER_ID, content_type)
    if not first_bytes:
        raise ProviderError(PROVIDER_ID, ErrorClass.MALFORMED, "empty audio body")
    magic = _MAGIC.get(fmt)
    if magic and not first_bytes.startswith(magic):
        raise ProviderError(PROVIDER_ID, ErrorClass.MALFORMED, f"body is not {fmt} audio")


def parse_speech_event(data: str) -> tuple[bytes, dict[Unit, int] | None]:
    """One SSE ``data`` → (audio bytes, usage once the ``speech.audio.done`` event arrives)."""
    try:
        event = json.loads(data)
    except ValueError:
        raise ProviderError(PROVIDER_ID, ErrorClass.MALFORMED, "speech event is not JSON") from None
    if not isinstance(event, dict):
        raise ProviderError(PROVIDER_ID, ErrorClass.MALFORMED, "speech event is not an object")
    if isinstance(event.get("error"), dict):
        message = str(event["error"].get("message") or "error event in speech stream")
        raise ProviderError(PROVIDER_ID, ErrorClass.SERVER, message[:300])
    kind = event.get("type")
    if kind == "speech.audio.delta":
        try:
            return base64.b64decode(event.get("audio") or "", validate=True), None
        except (binascii.Error, TypeError):
            raise ProviderError(PROVIDER_ID, ErrorClass.MALFORMED, "speech delta is not base64") from None
    if kind == "speech.audio.done":
        usage = event.get("usage") or {}
        try:
            return b"", {Unit.INPUT_TOKEN: int(usage["input_tokens"]), Unit.OUTPUT_TOKEN: int(usage["output_tokens"])}
        except (KeyError, TypeError, ValueError):
            raise ProviderError(PROVIDER_ID, ErrorClass.MALFORMED, "speech.audio.done carries no usage") from None
    return b"", None  # event types added later are not ours to fail on


def duration_media_type(fmt: str) -> str:
    """How to measure the audio later: headerless pcm is 24 kHz; other containers carry their own headers."""
    if fmt == "pcm":
        return f"audio/pcm; rate={SAMPLE_RATE}"
    return AUDIO_CONTENT_TYPES[fmt]
