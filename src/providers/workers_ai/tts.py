"""Deepgram Aura on Workers AI: our SynthesisRequest → the model's input object (pure, no I/O).

Input (workers-ai-models/aura-1.json, aura-2-en.json): ``{"text", "speaker", "encoding", "container",
"sample_rate", "bit_rate"}``; the answer is binary audio (``audio/mpeg`` by default). Workers AI's schema has no
``speed``, so a requested speed is not forwarded.
"""

from __future__ import annotations

from typing import Any

from gateway.errors import ErrorClass, ProviderError
from providers.base import SynthesisRequest

from .api import PROVIDER_ID

AURA_1 = "@cf/deepgram/aura-1"
AURA_2_EN = "@cf/deepgram/aura-2-en"

SPEAKERS: dict[str, frozenset[str]] = {
    AURA_1: frozenset(
        [
            "angus",
            "asteria",
            "arcas",
            "orion",
            "orpheus",
            "athena",
            "luna",
            "zeus",
            "perseus",
            "helios",
            "hera",
            "stella",
        ]
    ),
    AURA_2_EN: frozenset(
        [
            "amalthea",
            "andromeda",
            "apollo",
            "arcas",
            "aries",
            "asteria",
            "athena",
            "atlas",
            "aurora",
            "callista",
            "cora",
            "cordelia",
            "delia",
            "draco",
            "electra",
            "harmonia",
            "helena",
            "hera",
            "hermes",
            "hyperion",
            "iris",
            "janus",
            "juno",
            "jupiter",
            "luna",
            "mars",
            "minerva",
            "neptune",
            "odysseus",
            "ophelia",
            "orion",
            "orpheus",
            "pandora",
            "phoebe",
            "pluto",
            "saturn",
            "thalia",
            "theia",
            "vesta",
            "zeus",
        ]
    ),
}
DEFAULT_SPEAKERS = {AURA_1: "angus", AURA_2_EN: "luna"}  # the models' documented defaults

# Gateway voice aliases. asteria (female) and orion (male) exist in both models, so one table serves both.
VOICE_ALIASES = {"female": "asteria", "male": "orion", "neutral": "asteria"}

# Our format → (encoding, container). mp3 takes no container; linear16 is wrapped in WAV or left raw.
FORMATS: dict[str, tuple[str, str | None]] = {
    "mp3": ("mp3", None),
    "wav": ("linear16", "wav"),
    "pcm": ("linear16", "none"),
    "opus": ("opus", "ogg"),
}
# Deepgram Aura's output combinations (developers.deepgram.com tts-media-output-settings, from memory [UNCONF]):
# linear16 takes these rates; mp3 is fixed at 22.05 kHz and opus at 48 kHz.
LINEAR16_RATES = frozenset({8000, 16000, 24000, 32000, 48000})
SAMPLE_RATES = {"wav": LINEAR16_RATES, "pcm": LINEAR16_RATES, "mp3": frozenset({22050}), "opus": frozenset({48000})}


def normalize_speaker(voice: str) -> str:
    """Accept Deepgram-style voice ids too (``aura-asteria-en``, ``aura-2-thalia-en``): keep the speaker name."""
    name = voice.strip().lower()
    for prefix in ("aura-2-", "aura-"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    return name.removesuffix("-en")


def choose_speaker(model: str, voice: str | None) -> str:
    """``voice`` is already alias-resolved; None means the model's own default speaker."""
    if voice is None:
        return DEFAULT_SPEAKERS[model]
    speaker = normalize_speaker(voice)
    if speaker not in SPEAKERS[model]:
        raise ProviderError(PROVIDER_ID, ErrorClass.UNSUPPORTED, f"voice {voice!r} is not a speaker of {model}")
    return speaker


def is_english(language: str | None) -> bool:
    return language is None or language.lower().split("-")[0] == "en"


def synthesis_inputs(request: SynthesisRequest, model: str, speaker: str) -> dict[str, Any]:
    """The model input object, used both as the REST JSON body and as the binding's ``inputs``."""
    if request.format not in FORMATS:
        raise ProviderError(PROVIDER_ID, ErrorClass.UNSUPPORTED, f"format {request.format!r} is not supported")
    if not is_english(request.language):
        raise ProviderError(PROVIDER_ID, ErrorClass.UNSUPPORTED, f"{model} speaks English only")
    encoding, container = FORMATS[request.format]
    inputs: dict[str, Any] = {"text": request.text, "speaker": speaker, "encoding": encoding}
    if container is not None:
        inputs["container"] = container
    if request.sample_rate:
        if request.sample_rate not in SAMPLE_RATES[request.format]:
            raise ProviderError(
                PROVIDER_ID, ErrorClass.UNSUPPORTED, f"{request.format} at {request.sample_rate} Hz is not available"
            )
        inputs["sample_rate"] = request.sample_rate
    return inputs
