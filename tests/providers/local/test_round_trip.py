"""Speak, then listen: the local engines' real round trip, no fake anywhere.

Threshold: of the content words (stop words like "this", "is", "a", "of", "the" excluded), at least 60 % must come
back over both sentences together, and at least half of each sentence's. What PocketSphinx hears in espeak-ng speech
varies a little between runs (espeak-ng's klatt voices add random aspiration noise): over 8 runs the first sentence
came back as "hello world this is a fifth of the gateway" (6x) or "... a fifth of the day when" (2x), i.e. 3/4 or
2/4 content words; the second as "thank you for all the customer support" (8x), 3/4. Run with ``-s`` to see them.
"""

from __future__ import annotations

import time

from providers.base import Call, SynthesisRequest, TranscriptionRequest
from providers.local import LocalProvider
from tests.providers.local.flac import flac_from_pcm

SENTENCES = ("hello world this is a test of the gateway", "thank you for calling customer support")
STOP_WORDS = frozenset(["a", "an", "and", "at", "for", "is", "it", "of", "the", "this", "to", "you"])


def content_words(text: str) -> list[str]:
    return [word for word in text.lower().split() if word not in STOP_WORDS]


def recovered(said: str, heard: str) -> tuple[int, int]:
    heard_words = set(heard.lower().split())
    words = content_words(said)
    return sum(word in heard_words for word in words), len(words)


async def test_most_content_words_survive_speak_then_listen(provider: LocalProvider, call: Call) -> None:
    await provider.probe(call)  # load both engines first so the timings below are the work itself
    total_found = total_words = 0
    for sentence in SENTENCES:
        started = time.perf_counter()
        speech = await provider.synthesize(call, SynthesisRequest(text=sentence, format="wav"))
        spoke = time.perf_counter() - started
        started = time.perf_counter()
        heard = await provider.transcribe(call, TranscriptionRequest(audio=speech.audio, content_type="audio/wav"))
        listened = time.perf_counter() - started
        found, words = recovered(sentence, heard.text)
        print(
            f"\nsaid:  {sentence!r}\nheard: {heard.text!r} ({found}/{words} content words, confidence "
            f"{heard.confidence}); {speech.duration:.2f}s of audio, synthesis {spoke * 1000:.0f} ms, "
            f"recognition {listened * 1000:.0f} ms"
        )
        assert found * 2 >= words, f"fewer than half of {content_words(sentence)} came back: {heard.text!r}"
        assert heard.duration == speech.duration
        assert all(0 <= w.start <= w.end <= heard.duration for w in heard.words)
        assert [w.start for w in heard.words] == sorted(w.start for w in heard.words)
        total_found += found
        total_words += words
    assert total_found >= 0.6 * total_words


async def test_flac_upload_at_another_rate_round_trips(provider: LocalProvider, call: Call) -> None:
    sentence = SENTENCES[1]
    speech = await provider.synthesize(call, SynthesisRequest(text=sentence, format="pcm", sample_rate=44100))
    flac = flac_from_pcm(speech.audio, 44100)  # miniaudio decodes it; soxr brings it to the recognizer's 16 kHz
    heard = await provider.transcribe(call, TranscriptionRequest(audio=flac, content_type="audio/flac"))
    found, words = recovered(sentence, heard.text)
    print(f"\nFLAC 44.1 kHz: heard {heard.text!r} ({found}/{words})")
    assert found * 2 >= words
    assert abs(heard.duration - len(speech.audio) / 2 / 44100) < 1e-6
