"""The cache key: what determines the audio, and nothing else."""

from __future__ import annotations

from dataclasses import replace

from gateway.speech_cache import derive_key, normalise_text, workspace_scope
from gateway.speech_cache.policy import Directives
from providers.base import SynthesisRequest

BASE = SynthesisRequest(text="Hello there.", voice="nova", model="tts-1", format="mp3", sample_rate=None, speed=1.0,
                        language="en")  # fmt: skip


def k(request: SynthesisRequest = BASE, **kw):  # type: ignore[no-untyped-def]
    return derive_key(request, scope=kw.pop("scope", workspace_scope("ws")), pinned=kw.pop("pinned", None), **kw)


def test_whitespace_and_unicode_form_do_not_matter_but_words_and_case_do() -> None:
    assert normalise_text("  Hello\n\tthere.  ") == "Hello there."
    assert k(replace(BASE, text="Hello   there. ")) == k()
    assert k(replace(BASE, text="Cafe\u0301")) == k(replace(BASE, text="Caf\u00e9"))  # NFD == NFC
    assert k(replace(BASE, text="hello there.")) != k()


def test_every_audio_parameter_changes_the_key() -> None:
    variants = [replace(BASE, voice="onyx"), replace(BASE, model="tts-1-hd"), replace(BASE, format="wav"),
                replace(BASE, sample_rate=24000), replace(BASE, speed=1.25), replace(BASE, language="de")]  # fmt: skip
    digests = {k(v).digest for v in variants} | {k().digest}
    assert len(digests) == len(variants) + 1
    assert k(pinned="openai") != k() and k(pinned="openai") != k(pinned="deepgram")
    assert k(dialect="openai") != k()
    assert k(scope="shared").digest == k().digest and k(scope="shared") != k()


def test_cache_control_directives() -> None:
    assert Directives.from_headers({}) == Directives(lookup=True, store=True, shared=False)
    assert Directives.from_headers({"cache-control": "no-cache"}) == Directives(lookup=False, store=True)
    assert Directives.from_headers({"cache-control": "max-age=0, No-Store"}) == Directives(lookup=False, store=False)
    assert Directives.from_headers({"x-cache-scope": "Shared"}).shared
