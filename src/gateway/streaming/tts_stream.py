"""``POST /voice/stream``: text to speech relayed as the vendor produces it, with failover even after audio started.

The text is split into sentences and each sentence is one vendor request, so what the client has received is known
sentence by sentence. Each sentence goes through the ordinary failover runner (per-attempt timeout *to the first
byte*, error classification, failover log, health) starting from the vendor that spoke the previous sentence. When a
vendor's body is cut or stalls (no bytes for ``stall_timeout``) after it started, the runner is invoked again for
the same sentence with the vendors after it: the rest of the text is spoken by the next vendor, in the same format
and sample rate (``joiner.py``).

Delivery of a sentence cut midway — the trade-off, chosen per request:
- ``live`` (default): bytes go to the client as they arrive (time to first byte is the vendor's), and a sentence cut
  midway is spoken again *in full* by the next vendor: the listener hears the cut fragment, then the whole sentence.
  A sentence that was completely delivered is never spoken again, so a cut *between* sentences (the common case: a
  vendor refusing or failing the next request) is seamless.
- ``sentence``: each sentence's audio is held until the vendor finished it, then sent whole: every sentence reaches
  the client exactly once even when a vendor dies mid-sentence, at the price of a first byte that waits for the
  whole first sentence.
Billing: each vendor is billed for the characters of the sentences it completed; one usage row per run of sentences
on one vendor (``segment`` 0, 1, …). A cut sentence is billed to the vendor that finished it.

When every vendor left fails after audio was sent, the body ends with :class:`StreamFailed` raised instead of a
normal end: the server then drops the connection without the chunked body's last chunk, so an HTTP client sees an
incomplete response (an error), never a 200 that merely sounds short. Only the completed sentences are billed, and
``vgw_streams_failed_total`` counts it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from gateway.errors import ErrorClass, GatewayError, ProviderError
from gateway.routing.directory import Candidate
from gateway.routing.failover import FailoverPolicy, FailoverRunner
from gateway.streaming.joiner import AudioJoiner, JoinError, SegmentFilter
from providers.base import Call, Provider, SynthesisRequest

log = logging.getLogger("gateway.streaming")

LIVE, SENTENCE = "live", "sentence"
PCM_RATE_PREFERENCE = (24000, 16000, 22050, 44100, 48000, 8000)


def pin_sample_rate(request: SynthesisRequest, providers: list[Provider]) -> SynthesisRequest:
    """Raw PCM (and WAV, whose header we rewrite once) only join at one rate: choose it before the first vendor does,
    preferring the rate the most candidate vendors can produce."""
    if request.format not in ("pcm", "wav") or request.sample_rate:
        return request

    def able(rate: int) -> int:
        return sum(1 for p in providers if p.supports_synthesis(replace(request, sample_rate=rate)))

    best = max(PCM_RATE_PREFERENCE, key=lambda rate: (able(rate), -PCM_RATE_PREFERENCE.index(rate)))
    return replace(request, sample_rate=best)


def billing_model(provider: Provider, request: SynthesisRequest) -> str:
    """The model a streamed sentence is priced at (streams do not report it): the requested model when this vendor
    prices it specifically, else the vendor's default — the same rule as the cost estimate."""
    if request.model and provider.prices.for_model(request.model) is not provider.prices.prices.get("*"):
        return request.model
    return provider.default_tts_model or "*"


class StreamFailed(Exception):
    """Every vendor failed after the response started: abort the body (no final chunk) rather than end it."""


@dataclass
class VendorRun:
    """Consecutive sentences spoken by one vendor: one usage row."""

    candidate: Candidate
    characters: int = 0
    sentences: int = 0


@dataclass
class Opened:
    """A vendor stream that has produced its first bytes (live) or its whole sentence (sentence mode)."""

    first: bytes
    rest: AsyncIterator[bytes] | None
    segment: SegmentFilter


@dataclass
class TTSStream:
    runner: FailoverRunner
    candidates: list[Candidate]
    request: SynthesisRequest
    sentences: list[str]
    policy: FailoverPolicy
    request_id: str
    workspace_id: str
    stall_timeout: float
    mode: str = LIVE
    on_finish: Callable[[list[VendorRun]], None] | None = None
    runs: list[VendorRun] = field(default_factory=list)
    attempts: int = 0
    delivered: list[int] = field(default_factory=list)  # sentence indexes completed, in order (tests, logs)

    def __post_init__(self) -> None:
        self.joiner = AudioJoiner(self.request.format, self.request.sample_rate)
        self._position = 0  # index into candidates of the vendor speaking now
        self._opened: Opened | None = None
        self._current: AsyncIterator[bytes] | None = None

    @property
    def provider_id(self) -> str:
        return self.candidates[self._position].id

    # -- one sentence, through the failover runner -------------------------------------------------------------
    async def _open(self, index: int) -> Opened:
        sentence_request = replace(self.request, text=self.sentences[index])

        async def attempt(candidate: Candidate, call: Call) -> Opened:
            segment = self.joiner.segment()
            chunks = self._vendor_chunks(candidate, call, sentence_request)
            try:
                if self.mode == SENTENCE:
                    return Opened(await self._whole(chunks, segment), None, segment)
                while True:
                    out = segment.feed(await chunks.__anext__())
                    if out:
                        return Opened(out, chunks, segment)
            except StopAsyncIteration:
                raise ProviderError(candidate.id, ErrorClass.MALFORMED, "the vendor sent no audio") from None
            except JoinError as exc:
                await chunks.aclose()
                raise ProviderError(candidate.id, ErrorClass.UNSUPPORTED, str(exc)) from None
            except BaseException:
                await chunks.aclose()
                raise

        outcome = await self.runner.run(
            self.candidates[self._position :], attempt, policy=self.policy, request_id=self.request_id,
            workspace_id=self.workspace_id,
        )  # fmt: skip
        self.attempts += outcome.count
        assert outcome.winner is not None and outcome.result is not None
        self._position = self.candidates.index(outcome.winner)
        return outcome.result

    async def _vendor_chunks(self, candidate: Candidate, call: Call, request: SynthesisRequest) -> AsyncIterator[bytes]:
        """The vendor's chunks; a stall (no bytes for ``stall_timeout``) becomes a TIMEOUT like a cut is a CONNECTION."""
        stream = candidate.provider.stream_synthesis(call, request).__aiter__()
        try:
            while True:
                try:
                    chunk = await asyncio.wait_for(stream.__anext__(), self.stall_timeout)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    raise ProviderError(
                        candidate.id, ErrorClass.TIMEOUT, f"the audio stream stalled for {self.stall_timeout:g}s"
                    ) from None
                if chunk:
                    yield chunk
        finally:
            closer = getattr(stream, "aclose", None)
            if closer is not None:
                await closer()

    async def _whole(self, chunks: AsyncIterator[bytes], segment: SegmentFilter) -> bytes:
        parts = [segment.feed(chunk) async for chunk in chunks]
        parts.append(segment.finish())
        return b"".join(parts)

    # -- the response ------------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Get the first audio before the response starts, so a total failure is still a proper error status."""
        self._opened = await self._open(0)

    async def body(self) -> AsyncIterator[bytes]:
        index = 0
        failure: str | None = None
        try:
            while index < len(self.sentences):
                opened = self._opened or await self._open(index)
                self._opened = None
                self._current = opened.rest
                yield opened.first
                try:
                    if opened.rest is not None:
                        async for chunk in opened.rest:
                            out = opened.segment.feed(chunk)
                            if out:
                                yield out
                        tail = opened.segment.finish()
                        if tail:
                            yield tail
                except (ProviderError, JoinError) as exc:
                    if not self._vendor_failed_midstream(exc):
                        failure = "no vendor left after a mid-stream failure"
                        break
                    continue  # the same sentence, from the next vendor
                self._completed(index)
                index += 1
        except GatewayError as exc:  # every remaining vendor failed after audio was sent: the body ends early
            failure = exc.message
        finally:
            for leftover in (self._current, self._opened.rest if self._opened else None):
                if leftover is not None:
                    await leftover.aclose()  # type: ignore[attr-defined]
            if self.on_finish is not None:
                self.on_finish(self.runs)  # bills the completed sentences, also when the stream failed
        if failure is not None:
            log.warning(
                "stream %s failed after %d of %d sentences: %s",
                self.request_id,
                len(self.delivered),
                len(self.sentences),
                failure,
            )
            if self.runner.metrics is not None:
                self.runner.metrics.stream_failed("tts")
            raise StreamFailed(
                f"stream {self.request_id} failed after {len(self.delivered)} of "
                f"{len(self.sentences)} sentences: {failure}"
            )

    def _completed(self, index: int) -> None:
        candidate = self.candidates[self._position]
        if not self.runs or self.runs[-1].candidate is not candidate:
            self.runs.append(VendorRun(candidate))
        self.runs[-1].characters += len(self.sentences[index])
        self.runs[-1].sentences += 1
        self.delivered.append(index)

    def _vendor_failed_midstream(self, exc: Exception) -> bool:
        """Record the failure like the runner would; move on to the next vendor. False when none is left."""
        failed = self.candidates[self._position]
        error = exc if isinstance(exc, ProviderError) else ProviderError(failed.id, ErrorClass.UNSUPPORTED, str(exc))
        self.attempts += 1
        self._position += 1
        following = self.candidates[self._position].id if self._position < len(self.candidates) else None
        self.runner.stream_failed(failed, error, request_id=self.request_id, workspace_id=self.workspace_id,
                                  following=following)  # fmt: skip
        log.info(
            "stream %s: %s failed mid-stream (%s); %s",
            self.request_id,
            failed.id,
            error.message,
            f"continuing on {following}" if following else "no vendor left",
        )
        return following is not None


def describe_runs(runs: list[VendorRun]) -> list[dict[str, Any]]:
    return [{"provider": r.candidate.id, "characters": r.characters, "sentences": r.sentences} for r in runs]
