"""The OpenAI adapter: TTS (``/audio/speech``), STT (``/audio/transcriptions``), chat (``/chat/completions``).

Only I/O lives here; payloads and parsing are the pure functions of the sibling modules.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from typing import Any, ClassVar

import httpx

from gateway.errors import ErrorClass, ProviderError
from providers.base import (
    AUDIO_CONTENT_TYPES,
    Call,
    Capability,
    CompletionChunk,
    CompletionRequest,
    CompletionResult,
    Provider,
    SynthesisRequest,
    SynthesisResult,
    TranscriptionRequest,
    TranscriptionResult,
    Unit,
)
from providers.http import iter_body, open_stream, parse_json, send
from providers.openai import api, chat, speech, transcription
from providers.openai.pricing import PRICES, TOKEN_TTS_ESTIMATE_PER_CHARACTER
from providers.sse import iter_sse


class OpenAIProvider(Provider):
    id = api.PROVIDER_ID
    capabilities = frozenset({Capability.TTS, Capability.STT, Capability.LLM})
    prices = PRICES
    tts_formats = speech.FORMATS
    tts_sample_rates: ClassVar[Mapping[str, frozenset[int]]] = {
        "pcm": frozenset({speech.SAMPLE_RATE}),
        "wav": frozenset({speech.SAMPLE_RATE}),
    }
    max_text_length = speech.MAX_INPUT_CHARACTERS
    default_tts_model = "tts-1"
    default_stt_model = "whisper-1"
    default_llm_model = "gpt-4o-mini"
    voice_aliases: ClassVar[Mapping[str, str]] = {"female": "nova", "male": "onyx", "neutral": "alloy"}
    default_voice = "alloy"
    env_key = "OPENAI_API_KEY"
    env_base_url = "OPENAI_BASE_URL"
    default_base_url = api.DEFAULT_BASE_URL

    # -- text-to-speech -------------------------------------------------------------------------------------------
    async def synthesize(self, call: Call, request: SynthesisRequest) -> SynthesisResult:
        model = request.model or self.default_tts_model or "tts-1"
        audio = bytearray()
        usage: dict[Unit, int] = {}
        async for chunk, reported in self._speech(call, request, model):
            audio += chunk
            usage = reported or usage
        if not audio:
            raise ProviderError(self.id, ErrorClass.MALFORMED, "no audio in the response")
        return SynthesisResult(
            audio=bytes(audio),
            content_type=AUDIO_CONTENT_TYPES[request.format],
            model=model,
            characters=len(request.text),  # OpenAI reports no character count; tts-1 bills exactly len(input)
            usage=usage,
            duration_media_type=speech.duration_media_type(request.format),
        )

    async def stream_synthesis(self, call: Call, request: SynthesisRequest) -> AsyncIterator[bytes]:
        model = request.model or self.default_tts_model or "tts-1"
        async for chunk, _usage in self._speech(call, request, model):
            if chunk:
                yield chunk

    async def _speech(
        self, call: Call, request: SynthesisRequest, model: str
    ) -> AsyncIterator[tuple[bytes, dict[Unit, int] | None]]:
        """(audio chunk, usage) pairs as they arrive; usage only from the SSE ``speech.audio.done`` event."""
        voice = self.resolve_voice(request.voice) or "alloy"
        payload = speech.speech_payload(request, model=model, voice=voice)
        sse = payload.get("stream_format") == "sse"
        async with self._stream(call, api.SPEECH_PATH, payload) as response:
            if not sse:
                async for chunk in self._checked_audio(request.format, response):
                    yield chunk, None
                return
            async for event in iter_sse(self.id, response):
                chunk, usage = speech.parse_speech_event(event.data)
                yield chunk, usage
                if usage is not None:
                    return  # speech.audio.done: whether [DONE] follows is undocumented
            raise ProviderError(self.id, ErrorClass.CONNECTION, "speech stream ended before speech.audio.done")

    async def _checked_audio(self, fmt: str, response: httpx.Response) -> AsyncIterator[bytes]:
        """The binary body, after its first bytes proved it is the audio container asked for (not an HTML page)."""
        content_type = response.headers.get("content-type")
        head: bytes | None = b""
        async for chunk in iter_body(self.id, response):
            if head is not None:
                head += chunk
                if len(head) < speech.MAGIC_BYTES:
                    continue
                speech.check_audio(fmt, head, content_type)
                chunk, head = head, None
            yield chunk
        if head is not None:  # the whole body was shorter than a container signature
            speech.check_audio(fmt, head, content_type)
            yield head

    def estimate_synthesis_cost(self, request: SynthesisRequest) -> Decimal:
        model = request.model or self.default_tts_model or "tts-1"
        if Unit.CHARACTER in self.prices.for_model(model):
            return super().estimate_synthesis_cost(request)
        return TOKEN_TTS_ESTIMATE_PER_CHARACTER * len(request.text)

    # -- speech-to-text -------------------------------------------------------------------------------------------
    async def transcribe(self, call: Call, request: TranscriptionRequest) -> TranscriptionResult:
        model = request.model or self.default_stt_model or "whisper-1"
        fields, files = transcription.transcription_form(request, model=model)
        response = await self._send(call, "POST", api.TRANSCRIPTIONS_PATH, data=fields, files=files)
        return transcription.parse_transcription(parse_json(self.id, response), model=model, request=request)

    # -- chat -----------------------------------------------------------------------------------------------------
    async def complete(self, call: Call, request: CompletionRequest) -> CompletionResult:
        model = request.model or self.default_llm_model or "gpt-4o-mini"
        response = await self._send(call, "POST", api.CHAT_PATH, json=chat.chat_payload(request, model=model))
        return chat.parse_completion(parse_json(self.id, response), model=model)

    async def stream_completion(self, call: Call, request: CompletionRequest) -> AsyncIterator[CompletionChunk]:
        model = request.model or self.default_llm_model or "gpt-4o-mini"
        async with self._stream(call, api.CHAT_PATH, chat.chat_payload(request, model=model, stream=True)) as response:
            async for event in iter_sse(self.id, response):
                if event.data.strip() == chat.DONE:
                    return
                chunk = chat.parse_stream_event(event.data)
                if chunk is not None:
                    yield chunk
        # Usage arrives only at the end: a stream without [DONE] was cut and cannot be billed exactly.
        raise ProviderError(self.id, ErrorClass.CONNECTION, "stream ended before [DONE]")

    # -- health ---------------------------------------------------------------------------------------------------
    async def probe(self, call: Call) -> None:
        response = await self._send(call, "GET", api.MODELS_PATH)
        body = parse_json(self.id, response)
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise ProviderError(self.id, ErrorClass.MALFORMED, "model list has no data")

    # -- plumbing ---------------------------------------------------------------------------------------------------
    async def _send(self, call: Call, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await send(
            call.http, self.id, method, api.url(call.credentials, path), timeout=call.timeout,
            describe=api.describe_for(call.credentials), headers=api.auth_headers(call.credentials), **kwargs,
        )  # fmt: skip

    def _stream(self, call: Call, path: str, payload: dict[str, Any]) -> AbstractAsyncContextManager[httpx.Response]:
        return open_stream(
            call.http, self.id, "POST", api.url(call.credentials, path), timeout=call.timeout,
            describe=api.describe_for(call.credentials), headers=api.auth_headers(call.credentials), json=payload,
        )  # fmt: skip
