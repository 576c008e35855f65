"""Speech-to-text shared by ``/voice/transcribe`` and ``/v1/audio/transcriptions``: the audio checks, candidates,
failover and billing are the same whichever wire format the audio arrived in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal

from gateway import audio
from gateway.audio_checks import inspect_audio
from gateway.billing import Charge
from gateway.errors import InvalidRequest
from gateway.pipeline.context import RequestContext
from gateway.pipeline.usage import UsageEvent
from gateway.routing.directory import Candidate
from gateway.routing.select import select_candidates
from providers.base import Call, Capability, Provider, TranscriptionRequest, TranscriptionResult, Unit


@dataclass
class Transcribed:
    result: TranscriptionResult
    provider: Provider
    charge: Charge
    attempts: int


def same_model(model: str | None) -> Callable[[Provider], str | None]:
    """Every vendor is asked for the same model (``/voice/transcribe``'s ``model`` query parameter)."""
    return lambda provider: model


async def transcribe_audio(
    found: RequestContext,
    data: bytes,
    *,
    language: str | None,
    pinned: str | None,
    model_for: Callable[[Provider], str | None],
    punctuate: bool = True,
    diarize: bool = False,
    what: str = "the body",
) -> Transcribed:
    """Check that ``data`` is audio we can measure, transcribe it with failover, bill it. ``model_for`` picks the
    model per vendor (a vendor-specific model name must not reach the other vendors)."""
    gateway = found.gateway
    fmt = audio.sniff_format(data)
    if fmt is None:
        raise InvalidRequest(f"{what} is not audio in a format we recognise (wav, mp3, ogg, flac, webm, mp4)")
    content_type = audio.content_type_for(fmt)
    problem, duration = inspect_audio(data, content_type)  # before any vendor (or our own engine) spends work on it
    if problem is not None:
        raise InvalidRequest(f"{what}: {problem}")
    base = TranscriptionRequest(
        audio=data,
        content_type=content_type,
        language=language,
        punctuate=punctuate,
        diarize=diarize,
        duration=duration,
    )

    def request_for(provider: Provider) -> TranscriptionRequest:
        return replace(base, model=model_for(provider))

    def estimate(candidate: Candidate) -> Decimal:
        provider = candidate.provider
        model = model_for(provider) or provider.default_stt_model or "*"
        return provider.prices.cost(model, {Unit.AUDIO_SECOND: duration or 60})

    candidates = await select_candidates(
        gateway,
        found.workspace_id,
        Capability.STT,
        pinned=pinned,
        can_serve=lambda c: True,
        estimate=estimate,
        reserve=found.reserve_budget,
    )

    async def attempt(candidate: Candidate, call: Call) -> TranscriptionResult:
        return await candidate.provider.transcribe(call, request_for(candidate.provider))

    policy = gateway.policy()
    if duration:  # STT work scales with the audio: allow a minute of processing per ten minutes of audio
        policy.attempt_timeout = max(policy.attempt_timeout, min(policy.deadline, 10 + duration / 10))
    result, winner, attempts = await found.run_failover(candidates, attempt, policy)
    provider = winner.provider
    charge = found.record(UsageEvent(
        Charge(provider.transcription_cost(result), await gateway.markup_for(found.workspace)),
        provider=provider.id, resource="stt", model=result.model, unit_prices=provider.prices.for_model(result.model),
        audio_seconds=round(result.duration, 3), input_tokens=result.usage.get(Unit.INPUT_TOKEN),
        output_tokens=result.usage.get(Unit.OUTPUT_TOKEN),
    ))  # fmt: skip
    return Transcribed(result, provider, charge, attempts)
