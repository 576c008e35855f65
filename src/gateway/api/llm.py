"""/llm: text generation and seed 001's lesson scripts, with failover across LLM vendors.

The routing, failover, streaming and billing helpers here are shared with the OpenAI-compatible chat endpoint
(``gateway.api.openai_compat``), so both bill the same way from the tokens the vendor reported.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator, model_validator

from gateway import llm_script
from gateway.api.deps import Caller, check_workspace_claim, json_body, workspace_caller
from gateway.billing import Charge
from gateway.errors import ErrorClass, InvalidRequest, NotFound, ProviderError
from gateway.pipeline.usage import UsageEvent
from gateway.routing.directory import Candidate
from gateway.routing.select import select_candidates
from providers import available_provider_ids, get_provider
from providers.base import (
    Call,
    Capability,
    ChatMessage,
    CompletionChunk,
    CompletionRequest,
    CompletionResult,
    Provider,
    Unit,
)

log = logging.getLogger("gateway.llm")

router = APIRouter(tags=["llm"])

MAX_PROMPT_CHARS = 200_000
MAX_OUTPUT_TOKENS = 32_000
MAX_MESSAGES = 1000
DEFAULT_OUTPUT_ESTIMATE = 512  # tokens assumed for the cost strategy when max_tokens is not given
CHARS_PER_TOKEN = 4  # a rough English average, used only to *order* vendors by expected cost, never to bill
NO_MODEL_PREFERENCE = frozenset({"auto", "default"})


# -- which vendors know a model ------------------------------------------------------------------------------------
def _model_names(provider: Provider) -> set[str]:
    names = {key for key in provider.prices.prices if key != "*"}
    names.update(m for m in (provider.default_tts_model, provider.default_stt_model, provider.default_llm_model) if m)
    # Workers AI model ids are paths (@cf/meta/llama-…); their last segment is accepted as a short name too.
    names.update(name.rsplit("/", 1)[-1] for name in list(names) if "/" in name)
    return names


def provider_models(provider: Provider) -> list[str]:
    """The model ids a vendor's adapter knows: its defaults and its price table (without the ``*`` row)."""
    ordered = [m for m in (provider.default_llm_model, provider.default_tts_model, provider.default_stt_model) if m]
    ordered.extend(sorted(key for key in provider.prices.prices if key != "*"))
    return list(dict.fromkeys(ordered))


def knows_model(provider: Provider, model: str) -> bool:
    return model in _model_names(provider)


@cache
def _model_index() -> dict[str, frozenset[str]]:
    """provider id → the model names its adapter knows (adapters are fixed for the process: computed once)."""
    return {pid: frozenset(_model_names(get_provider(pid))) for pid in available_provider_ids()}


@lru_cache(maxsize=512)  # asked per candidate while sorting; model names come from clients, so bounded
def model_owners(model: str) -> frozenset[str]:
    """Vendors whose adapter names this model. Empty when nobody does: then any vendor may be offered it."""
    return frozenset(pid for pid, names in _model_index().items() if model in names)


def model_for(provider: Provider, model: str | None) -> str | None:
    """The model to ask *this* vendor for: another vendor's model name means "your default" (``None``)."""
    if model is None:
        return None
    owners = model_owners(model)
    return model if not owners or provider.id in owners else None


def requested_model(model: str | None) -> str | None:
    return None if model is None or model.strip().lower() in NO_MODEL_PREFERENCE else model


def pricing_model(provider: Provider, reported: str | None, requested: str | None) -> str:
    """Price by the model the vendor reported when its table lists it; vendors often report dated variants
    (``gpt-4o-2024-08-06``) that only the requested name (or the adapter's default) prices correctly."""
    table = provider.prices.prices
    for name in (reported, requested, provider.default_llm_model):
        if name and name in table:
            return name
    return reported or requested or provider.default_llm_model or "*"


# -- candidates and failover ---------------------------------------------------------------------------------------
def _estimate(provider: Provider, request: CompletionRequest) -> Decimal:
    prompt_chars = sum(len(m.content) for m in request.messages)
    model = pricing_model(provider, None, request.model)
    units = {Unit.INPUT_TOKEN: prompt_chars // CHARS_PER_TOKEN + 1,
             Unit.OUTPUT_TOKEN: request.max_tokens or DEFAULT_OUTPUT_ESTIMATE}  # fmt: skip
    return provider.prices.cost(model, units)


async def llm_candidates(found: Caller, request: CompletionRequest, pinned: str | None) -> list[Candidate]:
    """Vendors that may serve this completion. A model that names a specific vendor's model goes only to the vendors
    that know it (asking OpenAI for claude-haiku-4-5 is a guaranteed 404); an unknown model goes to all of them."""
    owners = model_owners(request.model) if request.model else frozenset()
    if owners:
        if pinned is not None and pinned not in owners:
            raise InvalidRequest(f"model {request.model!r} is not offered by {pinned!r} (it is offered by: "
                                 f"{', '.join(sorted(owners))})")  # fmt: skip
        configured = await found.gateway.directory.candidates(found.workspace_id, Capability.LLM)
        if not any(c.id in owners for c in configured):
            raise NotFound(
                f"model {request.model!r} is not available in this workspace (it is offered by: "
                f"{', '.join(sorted(owners))})",
                extra={"code": "model_not_found"},
            )
    return await select_candidates(
        found.gateway,
        found.workspace_id,
        Capability.LLM,
        pinned=pinned,
        can_serve=lambda c: not owners or c.id in owners,
        estimate=lambda c: _estimate(c.provider, request),
        reserve=found.reserve_budget,
    )


async def complete(
    found: Caller, request: CompletionRequest, pinned: str | None
) -> tuple[Candidate, CompletionResult, Charge, int]:
    """One non-streamed completion with failover, billed. Returns (winner, result, charge, attempts)."""
    candidates = await llm_candidates(found, request, pinned)

    async def attempt(candidate: Candidate, call: Call) -> CompletionResult:
        return await candidate.provider.complete(call, request)

    result, winner, attempts = await found.run_failover(candidates, attempt)
    charge = await bill_completion(found, winner.provider, result.model, request.model, result.input_tokens,
                                   result.output_tokens)  # fmt: skip
    return winner, result, charge, attempts


async def bill_completion(
    found: Caller,
    provider: Provider,
    reported_model: str | None,
    requested: str | None,
    input_tokens: int,
    output_tokens: int,
) -> Charge:
    gateway = found.gateway
    priced = pricing_model(provider, reported_model, requested)
    charge = Charge(
        provider.completion_cost(priced, input_tokens, output_tokens), await gateway.markup_for(found.workspace)
    )
    return found.record(UsageEvent(
        charge, provider=provider.id, resource="llm", model=reported_model or priced,
        unit_prices=provider.prices.for_model(priced), input_tokens=input_tokens, output_tokens=output_tokens,
    ))  # fmt: skip


# -- streaming -----------------------------------------------------------------------------------------------------
@dataclass
class CompletionStream:
    """A vendor stream that already produced its first chunk (so failover is over), relayed chunk by chunk.

    Iterate :meth:`chunks` (a mid-stream vendor failure is raised as ``ProviderError``), then call :meth:`bill`
    exactly once, also when the client went away: it bills the tokens the vendor reported."""

    found: Caller
    candidate: Candidate
    request: CompletionRequest
    attempts: int
    first: CompletionChunk
    rest: AsyncIterator[CompletionChunk]
    model: str | None = None
    finish_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    text: list[str] = field(default_factory=list)
    charge: Charge | None = None

    @property
    def provider(self) -> Provider:
        return self.candidate.provider

    def _absorb(self, chunk: CompletionChunk) -> None:
        self.model = chunk.model or self.model
        self.finish_reason = chunk.finish_reason or self.finish_reason
        if chunk.input_tokens is not None:
            self.input_tokens = chunk.input_tokens
        if chunk.output_tokens is not None:
            self.output_tokens = chunk.output_tokens
        if chunk.text:
            self.text.append(chunk.text)

    async def chunks(self) -> AsyncIterator[CompletionChunk]:
        chunk = self.first
        while True:
            self._absorb(chunk)
            yield chunk
            try:
                chunk = await self.rest.__anext__()
            except StopAsyncIteration:
                return
            except ProviderError as exc:  # the runner's bookkeeping, which also scrubs credentials from the message
                self.found.gateway.failover.stream_failed(
                    self.candidate,
                    exc,
                    request_id=self.found.request_id,
                    workspace_id=self.found.workspace_id,
                    following=None,
                )
                raise
            except Exception as exc:  # an adapter bug mid-stream: end the stream cleanly, like a vendor failure
                log.exception("adapter %s failed mid-stream", self.candidate.id)
                raise ProviderError(
                    self.candidate.id, ErrorClass.SERVER, f"adapter error: {type(exc).__name__}"
                ) from exc

    async def bill(self) -> Charge:
        if self.charge is None:
            try:
                await self.rest.aclose()  # release the vendor connection if we stopped early
            except Exception:  # closing a failed stream must not stop the billing
                log.debug("closing the %s stream failed", self.candidate.id, exc_info=True)
            if self.input_tokens is None or self.output_tokens is None:
                # Like the adapters: bill only what the vendor reported, never token counts guessed from text.
                log.warning("%s stream for %s ended without usage", self.candidate.id, self.found.request_id)
            self.charge = await bill_completion(
                self.found, self.provider, self.model, self.request.model, self.input_tokens or 0,
                self.output_tokens or 0,
            )  # fmt: skip
        return self.charge

    @property
    def usage(self) -> dict[str, int]:
        prompt, completion = self.input_tokens or 0, self.output_tokens or 0
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


async def open_stream(found: Caller, request: CompletionRequest, pinned: str | None) -> CompletionStream:
    """Fail over until a vendor produced its first chunk: before that a failure costs the client nothing."""
    candidates = await llm_candidates(found, request, pinned)

    async def attempt(candidate: Candidate, call: Call) -> tuple[CompletionChunk, AsyncIterator[CompletionChunk]]:
        chunks = candidate.provider.stream_completion(call, request)
        try:
            first = await chunks.__anext__()
        except StopAsyncIteration:
            raise ProviderError(candidate.id, ErrorClass.MALFORMED, "the stream ended before any output") from None
        return first, chunks

    (first, rest), winner, attempts = await found.run_failover(candidates, attempt)
    return CompletionStream(found, winner, request, attempts, first, rest)


def sse(data: dict[str, Any] | str) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"data: {payload}\n\n".encode()


SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def stream_headers(stream: CompletionStream) -> dict[str, str]:
    return {**SSE_HEADERS, "X-Provider": stream.candidate.id, "X-Attempts": str(stream.attempts)}


# -- /llm/generate -------------------------------------------------------------------------------------------------
class MessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant"]
    content: StrictStr = Field(max_length=MAX_PROMPT_CHARS)


class GenerateBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    prompt: StrictStr | None = Field(default=None, max_length=MAX_PROMPT_CHARS)
    messages: list[MessageIn] | None = Field(default=None, min_length=1, max_length=MAX_MESSAGES)
    model: StrictStr | None = Field(default=None, min_length=1, max_length=200)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_OUTPUT_TOKENS)
    provider: StrictStr | None = None
    stream: bool = False
    workspaceId: StrictStr | None = None

    @field_validator("prompt")
    @classmethod
    def _prompt_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("prompt must not be empty")
        return value

    @model_validator(mode="after")
    def _exactly_one_input(self) -> GenerateBody:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("send exactly one of 'prompt' or 'messages'")
        if self.messages is not None:
            if sum(len(m.content) for m in self.messages) > MAX_PROMPT_CHARS:
                raise ValueError(f"messages hold more than {MAX_PROMPT_CHARS} characters")
            if not any(m.role == "user" for m in self.messages):
                raise ValueError("messages need at least one 'user' message")
        return self

    def completion_request(self) -> CompletionRequest:
        if self.messages is not None:
            messages = tuple(ChatMessage(m.role, m.content) for m in self.messages)
        else:
            messages = (ChatMessage("user", self.prompt or ""),)
        return CompletionRequest(
            messages=messages, model=requested_model(self.model), temperature=self.temperature,
            max_tokens=self.max_tokens,
        )  # fmt: skip


@router.post("/llm/generate", summary="Text generation with failover across LLM vendors (optionally streamed as SSE)")
async def generate(request: Request) -> Response:
    found = await workspace_caller(request)  # a plain call: no dependency solving per request
    body = await json_body(request, GenerateBody)
    check_workspace_claim(found, body.workspaceId)
    completion = body.completion_request()
    if body.stream:
        stream = await open_stream(found, completion, body.provider)
        return StreamingResponse(
            _generate_events(stream), media_type="text/event-stream", headers=stream_headers(stream)
        )
    winner, result, charge, attempts = await complete(found, completion, body.provider)
    usage = {"prompt_tokens": result.input_tokens, "completion_tokens": result.output_tokens,
             "total_tokens": result.input_tokens + result.output_tokens}  # fmt: skip
    return JSONResponse(
        {
            "text": result.text,
            "provider": winner.id,
            "model": result.model,
            "usage": usage,
            "finish_reason": result.finish_reason,
            "cost": charge.final_usd,
            "requestId": found.request_id,
        },
        headers={"X-Provider": winner.id, "X-Cost": charge.header(), "X-Attempts": str(attempts)},
    )


async def _generate_events(stream: CompletionStream) -> AsyncIterator[bytes]:
    """``{"type":"delta","text"}`` events, then ``{"type":"done", usage, cost, …}`` (or ``{"type":"error"}``)."""
    failure: ProviderError | None = None
    try:
        try:
            async for chunk in stream.chunks():
                if chunk.text:
                    yield sse({"type": "delta", "text": chunk.text})
        except ProviderError as exc:
            failure = exc
        charge = await stream.bill()
        if failure is not None:
            error = {"type": "upstream_error", "message": f"the vendor failed mid-stream: {failure.message}",
                     "request_id": stream.found.request_id, "attempts": [failure.attempt()]}  # fmt: skip
            yield sse({"type": "error", "error": error})
            return
        yield sse(
            {
                "type": "done",
                "provider": stream.candidate.id,
                "model": stream.model,
                "finish_reason": stream.finish_reason,
                "usage": stream.usage,
                "cost": charge.final_usd,
                "requestId": stream.found.request_id,
            }
        )
    finally:
        await stream.bill()  # the client went away mid-stream: still bill what the vendor reported


# -- /llm/generate-script ------------------------------------------------------------------------------------------
MAX_DOCUMENT_CHARS = 100_000


class ScriptBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    document_content: StrictStr = Field(min_length=1, max_length=MAX_DOCUMENT_CHARS)
    topic: StrictStr = Field(default="the document", min_length=1, max_length=500)
    difficulty_level: Literal["beginner", "intermediate", "advanced"] = "intermediate"
    target_duration_minutes: int = Field(default=5, ge=1, le=120)
    language: StrictStr = Field(default="en", min_length=2, max_length=35)
    model: StrictStr | None = Field(default=None, min_length=1, max_length=200)
    temperature: float | None = Field(default=None, ge=0, le=2)
    provider: StrictStr | None = None
    workspaceId: StrictStr | None = None

    @field_validator("document_content", "topic")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


@router.post("/llm/generate-script", summary="A spoken lesson script (JSON) generated from a document")
async def generate_script(request: Request) -> JSONResponse:
    found = await workspace_caller(request)  # a plain call: no dependency solving per request
    body = await json_body(request, ScriptBody)
    check_workspace_claim(found, body.workspaceId)
    minutes = body.target_duration_minutes
    completion = CompletionRequest(
        messages=llm_script.script_messages(
            body.document_content, topic=body.topic, difficulty=body.difficulty_level, minutes=minutes,
            language=body.language,
        ),
        model=requested_model(body.model),
        temperature=body.temperature if body.temperature is not None else 0.7,
        max_tokens=llm_script.max_tokens_for(minutes),
    )  # fmt: skip
    winner, result, charge, attempts = await complete(found, completion, body.provider)
    script = llm_script.parse_script(result.text, topic=body.topic)
    return JSONResponse(
        {
            "script": script,
            "provider": winner.id,
            "model": result.model,
            "usage": {"prompt_tokens": result.input_tokens, "completion_tokens": result.output_tokens,
                      "total_tokens": result.input_tokens + result.output_tokens},
            "cost": charge.final_usd,
            "requestId": found.request_id,
        },
        headers={"X-Provider": winner.id, "X-Cost": charge.header(), "X-Attempts": str(attempts)},
    )  # fmt: skip
