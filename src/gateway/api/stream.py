"""``POST /voice/stream``: chunked text-to-speech with failover before and after the first byte."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import Field

from gateway.api.deps import check_workspace_claim, json_body, workspace_caller
from gateway.api.voice import SynthesizeBody, synthesis_request, tts_candidates
from gateway.billing import Charge
from gateway.pipeline.usage import UsageEvent
from gateway.routing.select import require_known_provider
from gateway.speech_cache import bill_hit
from gateway.speech_cache.respond import hit_stream, tee_to_cache
from gateway.streaming.config import StreamingConfig
from gateway.streaming.sentences import split_sentences
from gateway.streaming.tts_stream import LIVE, TTSStream, VendorRun, billing_model, pin_sample_rate
from providers.base import AUDIO_CONTENT_TYPES, SynthesisRequest, SynthesisResult

router = APIRouter(tags=["voice"])


class StreamBody(SynthesizeBody):
    # "live": bytes as the vendor sends them (a sentence cut midway is spoken again in full by the next vendor);
    # "sentence": each sentence sent once complete (exactly once, even across a mid-sentence cut).
    delivery: Literal["live", "sentence"] = Field(default=LIVE)


def stream_dialect(tts: SynthesisRequest) -> str:
    """Streamed PCM/WAV is joined at a rate the stream pins and framed for streaming: cached apart from whole files.
    Streamed MP3/Opus is the same kind of audio ``/voice/synthesize`` returns, so they share entries."""
    return "voice-stream" if tts.format in ("pcm", "wav") else "voice"


def spoken_whole_by_one_vendor(relay: TTSStream) -> bool:
    """Worth keeping: every sentence delivered, by one vendor, each on its first attempt (no failover before or
    after the first byte, so no re-spoken fragment and one voice throughout)."""
    return len(relay.delivered) == len(relay.sentences) == relay.attempts and len(relay.runs) == 1


@router.post("/voice/stream", summary="Streamed text to speech; fails over mid-stream at sentence boundaries")
async def stream(request: Request) -> StreamingResponse:
    found = await workspace_caller(request)  # a plain call: no dependency solving per request
    body = await json_body(request, StreamBody)
    check_workspace_claim(found, body.workspaceId)
    gateway = found.gateway
    tts = synthesis_request(body)
    if body.provider is not None:
        require_known_provider(body.provider)
    lookup = await gateway.speech_cache.lookup(found.workspace_id, request.headers, tts, pinned=body.provider,
                                               dialect=stream_dialect(tts))  # fmt: skip
    media_type = AUDIO_CONTENT_TYPES.get(tts.format, "application/octet-stream")
    if lookup.entry is not None:  # the whole audio at once, as a stream
        return hit_stream(lookup, bill_hit(found, lookup.entry, lookup.policy.price_per_million_chars), media_type)
    candidates = await tts_candidates(found, tts, body.provider)
    tts = pin_sample_rate(tts, [c.provider for c in candidates])
    candidates = [c for c in candidates if c.provider.supports_synthesis(tts)] or candidates
    smallest_limit = min(c.provider.max_text_length for c in candidates)
    markup = await gateway.markup_for(found.workspace)
    config = StreamingConfig.from_env(gateway.runtime.env)

    def bill(runs: list[VendorRun]) -> None:
        for segment, run in enumerate(runs):
            provider = run.candidate.provider
            model = billing_model(provider, tts)
            result = SynthesisResult(audio=b"", content_type="", model=model, characters=run.characters)
            charge = Charge(provider.synthesis_cost(result), markup)
            found.record(UsageEvent(
                charge, provider=provider.id, resource="tts", model=model,
                unit_prices=provider.prices.for_model(model), segment=segment, characters=run.characters,
            ))  # fmt: skip

    relay = TTSStream(
        runner=gateway.failover, candidates=candidates, request=tts,
        sentences=split_sentences(tts.text, max_chars=min(smallest_limit, 1000)), policy=gateway.policy(),
        request_id=found.request_id, workspace_id=found.workspace_id, stall_timeout=config.tts_stall,
        mode=body.delivery, on_finish=bill,
    )  # fmt: skip
    await relay.start()  # every vendor failing before the first byte is still an ordinary error response
    first = next(c for c in candidates if c.id == relay.provider_id)
    estimate = Charge(first.provider.estimate_synthesis_cost(tts), markup)

    def keep(audio: bytes) -> None:
        run = relay.runs[0]
        lookup.store(audio, content_type=media_type, provider=run.candidate.id, sample_rate=tts.sample_rate,
                     model=billing_model(run.candidate.provider, tts), characters=run.characters)  # fmt: skip

    return StreamingResponse(
        tee_to_cache(relay.body(), keep, lambda: spoken_whole_by_one_vendor(relay))
        if lookup.may_store
        else relay.body(),
        media_type=media_type,
        headers={
            "X-Provider": relay.provider_id,
            "X-Cost": estimate.header(),
            "X-Characters": str(len(tts.text)),
            "X-Attempts": str(relay.attempts),
            "X-Sentences": str(len(relay.sentences)),
            **({"X-Sample-Rate": str(tts.sample_rate)} if tts.sample_rate else {}),
            **lookup.headers(),
        },
    )
