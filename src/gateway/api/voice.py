"""/voice: synthesize, transcribe and vendor health."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

from gateway import audio
from gateway.api.deps import Caller, caller, check_workspace_claim, json_body, read_body, workspace_caller
from gateway.billing import Charge
from gateway.errors import InvalidRequest, UnsupportedMediaType
from gateway.health.view import caller_circuit
from gateway.pipeline.usage import UsageEvent
from gateway.routing.directory import Candidate
from gateway.routing.select import require_known_provider, select_candidates
from gateway.speech import same_model, transcribe_audio
from gateway.speech_cache import Lookup, bill_hit
from gateway.speech_cache.respond import hit_response
from providers import PROVIDER_IDS, get_provider
from providers.base import (
    AUDIO_CONTENT_TYPES,
    Call,
    Capability,
    Provider,
    SynthesisRequest,
    SynthesisResult,
    Unit,
)

router = APIRouter(tags=["voice"])

MAX_TEXT_CHARS = 5000


class VoiceConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    voice: StrictStr | None = Field(default=None, max_length=200)
    model: StrictStr | None = Field(default=None, max_length=200)
    format: Literal["mp3", "wav", "pcm", "opus"] = "mp3"
    sampleRate: int | None = Field(default=None, ge=8000, le=48000)
    speed: float | None = Field(default=None, ge=0.25, le=4.0)
    language: StrictStr | None = Field(default=None, max_length=35)


class SynthesizeBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    text: StrictStr = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    voiceConfig: VoiceConfig = Field(default_factory=VoiceConfig)
    provider: StrictStr | None = None
    workspaceId: StrictStr | None = None

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text must contain something to say")
        return value


def synthesis_request(body: SynthesizeBody) -> SynthesisRequest:
    vc = body.voiceConfig
    return SynthesisRequest(
        text=body.text,
        voice=vc.voice,
        model=vc.model,
        format=vc.format,
        sample_rate=vc.sampleRate,
        speed=vc.speed,
        language=vc.language,
    )


async def tts_candidates(found: Caller, request: SynthesisRequest, pinned: str | None) -> list[Candidate]:
    return await select_candidates(
        found.gateway,
        found.workspace_id,
        Capability.TTS,
        pinned=pinned,
        can_serve=lambda c: c.provider.supports_synthesis(request),
        estimate=lambda c: c.provider.estimate_synthesis_cost(request),
        asked=request.describe(),
        reserve=found.reserve_budget,
    )


async def bill_synthesis(found: Caller, candidate: Candidate, result: SynthesisResult, *, segment: int = 0) -> Charge:
    gateway = found.gateway
    provider = candidate.provider
    charge = Charge(provider.synthesis_cost(result), await gateway.markup_for(found.workspace))
    return found.record(UsageEvent(
        charge, provider=provider.id, resource="tts", model=result.model,
        unit_prices=provider.prices.for_model(result.model), segment=segment, characters=result.characters,
        input_tokens=result.usage.get(Unit.INPUT_TOKEN), output_tokens=result.usage.get(Unit.OUTPUT_TOKEN),
    ))  # fmt: skip


async def synthesis_response(
    found: Caller,
    lookup: Lookup,
    find_candidates: Callable[[], Awaitable[list[Candidate]]],
    request_for: Callable[[Provider], SynthesisRequest],
    fmt: str,
) -> Response:
    """Answer from the cache (``lookup``, made before any vendor is chosen) or synthesize with failover, bill it, and
    answer with the audio and the billing headers (shared by ``/voice/synthesize`` and ``/v1/audio/speech``;
    ``request_for`` adapts the request to each vendor)."""
    if lookup.entry is not None:
        charge = bill_hit(found, lookup.entry, lookup.policy.price_per_million_chars)
        return hit_response(lookup, charge, AUDIO_CONTENT_TYPES.get(fmt, lookup.entry.content_type))

    async def attempt(candidate: Candidate, call: Call) -> SynthesisResult:
        return await candidate.provider.synthesize(call, request_for(candidate.provider))

    result, winner, attempts = await found.run_failover(await find_candidates(), attempt)
    charge = await bill_synthesis(found, winner, result)
    lookup.store(result.audio, content_type=result.content_type, provider=winner.id, model=result.model,
                 characters=result.characters, usage=result.usage,
                 sample_rate=request_for(winner.provider).sample_rate)  # fmt: skip
    return Response(
        content=result.audio,
        media_type=AUDIO_CONTENT_TYPES.get(fmt, result.content_type),
        headers={
            "X-Provider": winner.id,
            "X-Cost": charge.header(),
            "X-Characters": str(result.characters),
            "X-Attempts": str(attempts),
            "X-Model": result.model,
            **lookup.headers(),
        },
    )


@router.post("/voice/synthesize", summary="Text to speech, with failover across vendors")
async def synthesize(request: Request) -> Response:
    found = await workspace_caller(request)  # a plain call: no dependency solving per request
    body = await json_body(request, SynthesizeBody)
    check_workspace_claim(found, body.workspaceId)
    tts = synthesis_request(body)
    if body.provider is not None:
        require_known_provider(body.provider)
    lookup = await found.gateway.speech_cache.lookup(found.workspace_id, request.headers, tts, pinned=body.provider)
    return await synthesis_response(
        found, lookup, lambda: tts_candidates(found, tts, body.provider), lambda provider: tts, tts.format
    )


def _flag(value: str | None, name: str, default: bool) -> bool:
    if value is None or value == "":
        return default
    lowered = value.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise InvalidRequest(f"query parameter {name!r} must be true or false")


@router.post("/voice/transcribe", summary="Speech to text: the raw audio is the body")
async def transcribe(request: Request) -> JSONResponse:
    found = await workspace_caller(request)  # a plain call: no dependency solving per request
    gateway = found.gateway
    query = request.query_params
    declared = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if declared and declared not in audio.AUDIO_MEDIA_TYPES:
        raise UnsupportedMediaType(
            f"Content-Type {declared!r} is not audio; send one of: {', '.join(sorted(audio.AUDIO_MEDIA_TYPES))}"
        )
    language = query.get("language") or None
    if language is not None and len(language) > 35:
        raise InvalidRequest("language is too long")
    pinned = query.get("provider") or None
    punctuate = _flag(query.get("punctuate"), "punctuate", True)
    diarize = _flag(query.get("diarize"), "diarize", False)
    model = query.get("model") or None
    if pinned is not None:
        require_known_provider(pinned)  # before reading what may be 25 MB of audio
    data = await read_body(request, gateway.settings.max_audio_bytes)
    if not data:
        raise InvalidRequest("the request body is empty; send the audio bytes as the body")
    done = await transcribe_audio(
        found, data, language=language, pinned=pinned, model_for=same_model(model), punctuate=punctuate,
        diarize=diarize,
    )  # fmt: skip
    result, provider, charge = done.result, done.provider, done.charge
    payload: dict[str, Any] = {
        "text": result.text,
        "words": [w.to_json() for w in result.words],
        "confidence": result.confidence if result.confidence is not None else 0.0,
        "duration": round(result.duration, 3),
        "provider": provider.id,
        "model": result.model,
        "cost": charge.final_usd,
        "requestId": found.request_id,
    }
    if result.language:
        payload["language"] = result.language
    return JSONResponse(
        payload,
        headers={"X-Provider": provider.id, "X-Cost": charge.header(), "X-Attempts": str(done.attempts)},
    )


@router.get("/voice/providers/health", summary="Vendor health as this caller sees it")
async def providers_health(found: Caller = Depends(caller)) -> dict[str, Any]:
    gateway = found.gateway
    snapshot = await gateway.health.snapshot()
    configured = {c.id: c for c in await gateway.directory.configured(found.workspace.id if found.workspace else "")}
    out: dict[str, Any] = {}
    for provider_id in PROVIDER_IDS:
        try:
            provider = get_provider(provider_id)
        except ImportError:
            continue
        entry = snapshot.get(provider_id)
        capabilities = sorted(c.value for c in provider.capabilities)
        if provider_id not in configured:
            out[provider_id] = {
                "status": "unconfigured",
                "errorRate": 0.0,
                "latencyMs": None,
                "lastCheck": None,
                "circuit": "closed",
                "capabilities": capabilities,
            }
            continue
        entry = entry or {}
        out[provider_id] = {
            "status": entry.get("status", "healthy"),
            "errorRate": entry.get("errorRate", 0.0),
            "latencyMs": entry.get("latencyMs"),
            "lastCheck": entry.get("lastCheck"),
            # the worst of the vendor-wide circuit and this workspace's own credential's breaker
            "circuit": caller_circuit(
                entry, gateway.failover.breakers, provider_id, configured[provider_id].fingerprint
            ),
            "capabilities": capabilities,
            **({"error": entry["error"]} if entry.get("error") else {}),
        }
    return out
