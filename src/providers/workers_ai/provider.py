"""WorkersAIProvider: Cloudflare Workers AI over AI Gateway REST, or the ``AI`` binding when the Worker has one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from decimal import Decimal
from typing import Any, ClassVar

import httpx

from gateway.errors import ErrorClass, ProviderError
from providers import http
from providers.base import (
    AUDIO_CONTENT_TYPES,
    Call,
    Capability,
    ChatMessage,
    CompletionChunk,
    CompletionRequest,
    CompletionResult,
    Credentials,
    PriceTable,
    Provider,
    SynthesisRequest,
    SynthesisResult,
    TranscriptionRequest,
    TranscriptionResult,
    Unit,
    per_million,
)

from . import api, binding, llm, stt, tts

_PER_MINUTE = Decimal(60)
_AURA_1 = {Unit.CHARACTER: per_million("15.00")}  # $0.015 / 1k characters
_WHISPER = {Unit.AUDIO_SECOND: Decimal("0.0005") / _PER_MINUTE}  # $0.0005 / audio minute
_LLAMA_8B = {Unit.INPUT_TOKEN: per_million("0.282"), Unit.OUTPUT_TOKEN: per_million("0.827")}

PRICES = PriceTable(
    as_of="2025-08-27",  # reference/providers.md §7.3: Workers AI pricing.mdx + cloudflare-docs PR #24748
    prices={
        tts.AURA_1: _AURA_1,
        tts.AURA_2_EN: {Unit.CHARACTER: per_million("30.00")},
        stt.WHISPER: _WHISPER,
        stt.NOVA_3: {Unit.AUDIO_SECOND: Decimal("0.0052") / _PER_MINUTE},
        llm.LLAMA_8B: _LLAMA_8B,
        llm.LLAMA_8B_FAST: {Unit.INPUT_TOKEN: per_million("0.045"), Unit.OUTPUT_TOKEN: per_million("0.384")},
        "*": {**_AURA_1, **_WHISPER, **_LLAMA_8B},  # the default model of each capability
    },
)

MODELS = {
    Capability.TTS: (tts.AURA_1, tts.AURA_2_EN),
    Capability.STT: (stt.WHISPER, stt.NOVA_3),
    Capability.LLM: (llm.LLAMA_8B, llm.LLAMA_8B_FAST),
}

PROBE_MODEL = llm.LLAMA_8B_FAST  # the cheapest priced model here
PROBE_REQUEST = CompletionRequest(messages=(ChatMessage("user", "ping"),), max_tokens=1)


class WorkersAIProvider(Provider):
    id: ClassVar[str] = api.PROVIDER_ID
    capabilities = frozenset({Capability.TTS, Capability.STT, Capability.LLM})
    prices = PRICES
    tts_formats = frozenset(tts.FORMATS)
    tts_sample_rates = tts.SAMPLE_RATES
    max_text_length = 2000  # Aura's REST limit at Deepgram; Workers AI documents none of its own
    default_tts_model = tts.AURA_1
    default_stt_model = stt.WHISPER
    default_llm_model = llm.LLAMA_8B
    voice_aliases = tts.VOICE_ALIASES
    default_voice = None  # None lets each Aura model use its own default speaker (aura-1 angus, aura-2-en luna)
    env_base_url = "WORKERS_AI_BASE_URL"
    default_base_url = api.DEFAULT_BASE_URL

    # -- configuration ------------------------------------------------------------------------------------------
    @classmethod
    def credentials_from_env(cls, env: Mapping[str, str]) -> Credentials | None:
        account, token = env.get("CLOUDFLARE_ACCOUNT_ID"), env.get("CLOUDFLARE_API_TOKEN")
        if not (account and token):
            return None
        extra = {api.ACCOUNT_ID: account, api.GATEWAY_ID: env.get("CLOUDFLARE_GATEWAY_ID") or api.DEFAULT_GATEWAY_ID}
        if env.get("CF_AIG_TOKEN"):
            extra[api.GATEWAY_TOKEN] = env["CF_AIG_TOKEN"]
        base_url = (env.get(cls.env_base_url) or cls.default_base_url).rstrip("/")
        return Credentials(api_key=token, base_url=base_url, extra=extra)

    # Realtime routes (/voice/realtime, /voice/speak-stream): imported on first use, not with the HTTP adapter.
    @property
    def listen_routes(self) -> tuple[Any, ...]:
        from providers.workers_ai.realtime import LISTEN_ROUTES

        return LISTEN_ROUTES

    @property
    def speak_routes(self) -> tuple[Any, ...]:
        from providers.workers_ai.realtime import SPEAK_ROUTES

        return SPEAK_ROUTES

    @classmethod
    def available_via_binding(cls, bindings: Mapping[str, Any]) -> bool:
        """On Workers the ``AI`` binding needs no key: the vendor is usable whenever the binding exists."""
        return binding.get_binding(bindings) is not None

    @classmethod
    def builtin_credentials(cls, env: Mapping[str, str], bindings: Mapping[str, Any]) -> Credentials | None:
        if not cls.available_via_binding(bindings):
            return None
        gateway_id = env.get("CLOUDFLARE_GATEWAY_ID")  # binding calls may still go through a named AI Gateway
        base_url = (env.get(cls.env_base_url) or cls.default_base_url).rstrip("/")
        return Credentials(api_key=None, base_url=base_url, extra={api.GATEWAY_ID: gateway_id} if gateway_id else {})

    def resolve_model(self, capability: Capability, requested: str | None) -> str:
        """Our model ids (or their short names, e.g. ``nova-3``); another vendor's model name means our default."""
        known = MODELS[capability]
        if requested:
            for model in known:
                if requested in (model, model.rsplit("/", 1)[-1]):
                    return model
            if requested.startswith("@cf/"):
                raise ProviderError(self.id, ErrorClass.UNSUPPORTED, f"model {requested!r} is not offered here")
        return known[0]

    def supports_synthesis(self, request: SynthesisRequest) -> bool:
        if not super().supports_synthesis(request) or not tts.is_english(request.language):
            return False
        return not (request.model and request.model.startswith("@cf/") and request.model not in MODELS[Capability.TTS])

    # -- transport: binding when present, else AI Gateway REST --------------------------------------------------
    def _binding_options(self, call: Call) -> dict[str, Any] | None:
        # Route binding calls through the configured AI Gateway too, so both paths share its logs and limits.
        gateway_id = call.credentials.extra.get(api.GATEWAY_ID) if call.credentials else None
        return {"gateway": {"id": gateway_id}} if gateway_id else None

    async def _run_json(self, call: Call, model: str, inputs: dict[str, Any]) -> Any:
        ai = binding.get_binding(call.bindings)
        if ai is not None:
            value = await binding.run(ai, model, inputs, self._binding_options(call), call.timeout)
            return binding.as_result(value)
        response = await http.send(
            call.http, self.id, "POST", api.model_url(call.credentials, model),
            timeout=call.timeout, describe=api.describe_error,
            headers=api.auth_headers(call.credentials), json=inputs,
        )  # fmt: skip
        return api.unwrap_result(http.parse_json(self.id, response))

    async def _stream_rest(self, call: Call, model: str, **kwargs: Any) -> AsyncIterator[bytes]:
        """A streamed REST answer's body. A JSON envelope instead of the expected stream is an error or MALFORMED."""
        async with http.open_stream(
            call.http, self.id, "POST", api.model_url(call.credentials, model),
            timeout=call.timeout, describe=api.describe_error,
            headers=api.auth_headers(call.credentials), **kwargs,
        ) as response:  # fmt: skip
            if response.headers.get("content-type", "").startswith("application/json"):
                try:
                    await response.aread()
                except httpx.HTTPError as exc:
                    raise http.transport_error(self.id, exc) from None
                api.unwrap_result(http.parse_json(self.id, response))  # raises on success:false
                raise ProviderError(self.id, ErrorClass.MALFORMED, "expected a stream, got a JSON result")
            async for chunk in http.iter_body(self.id, response):
                yield chunk

    async def _stream(self, call: Call, model: str, inputs: dict[str, Any]) -> AsyncIterator[bytes]:
        ai = binding.get_binding(call.bindings)
        if ai is not None:
            value = await binding.run(ai, model, inputs, self._binding_options(call), call.timeout)
            async for chunk in binding.iter_binding_bytes(value):
                yield chunk
            return
        async for chunk in self._stream_rest(call, model, json=inputs):
            yield chunk

    # -- text-to-speech -----------------------------------------------------------------------------------------
    def _synthesis_inputs(self, request: SynthesisRequest) -> tuple[str, dict[str, Any]]:
        model = self.resolve_model(Capability.TTS, request.model)
        speaker = tts.choose_speaker(model, self.resolve_voice(request.voice))
        return model, tts.synthesis_inputs(request, model, speaker)

    async def stream_synthesis(self, call: Call, request: SynthesisRequest) -> AsyncIterator[bytes]:
        model, inputs = self._synthesis_inputs(request)
        async for chunk in self._stream(call, model, inputs):
            yield chunk

    async def synthesize(self, call: Call, request: SynthesisRequest) -> SynthesisResult:
        model, inputs = self._synthesis_inputs(request)
        audio = b"".join([chunk async for chunk in self._stream(call, model, inputs)])
        if not audio:
            raise ProviderError(self.id, ErrorClass.MALFORMED, "empty audio")
        # Aura bills characters and Workers AI reports none back: the text we sent is the billed count.
        return SynthesisResult(
            audio=audio, content_type=AUDIO_CONTENT_TYPES[request.format], model=model, characters=len(request.text)
        )

    # -- speech-to-text -----------------------------------------------------------------------------------------
    async def transcribe(self, call: Call, request: TranscriptionRequest) -> TranscriptionResult:
        model = self.resolve_model(Capability.STT, request.model)
        ai = binding.get_binding(call.bindings)
        if ai is not None:
            value = await binding.run(
                ai, model, stt.binding_inputs(model, request), self._binding_options(call), call.timeout
            )
            result = binding.as_result(value)
        else:
            headers = {**api.auth_headers(call.credentials), "Content-Type": request.content_type}
            response = await http.send(
                call.http, self.id, "POST", api.model_url(call.credentials, model),
                timeout=call.timeout, describe=api.describe_error, headers=headers, content=request.audio,
                params=stt.nova_query(request) if model == stt.NOVA_3 else None,
            )  # fmt: skip
            result = api.unwrap_result(http.parse_json(self.id, response))
        if model == stt.NOVA_3:
            return stt.parse_nova(result, request, model)
        return stt.parse_whisper(result, request, model)

    # -- LLM ----------------------------------------------------------------------------------------------------
    async def complete(self, call: Call, request: CompletionRequest) -> CompletionResult:
        model = self.resolve_model(Capability.LLM, request.model)
        result = await self._run_json(call, model, llm.completion_inputs(request))
        return llm.parse_completion(result, model)

    async def stream_completion(self, call: Call, request: CompletionRequest) -> AsyncIterator[CompletionChunk]:
        model = self.resolve_model(Capability.LLM, request.model)
        inputs = llm.completion_inputs(request, stream=True)
        async for chunk in llm.parse_stream(self._stream(call, model, inputs), model):
            yield chunk

    # -- health -------------------------------------------------------------------------------------------------
    async def probe(self, call: Call) -> None:
        # AI Gateway documents no cheap authenticated read for workers-ai, so the probe is a 1-token completion of
        # a fixed "ping" on the cheapest model (never user text): it proves the token, gateway and inference path.
        await self._run_json(call, PROBE_MODEL, llm.completion_inputs(PROBE_REQUEST))
