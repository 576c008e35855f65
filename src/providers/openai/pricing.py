"""OpenAI list prices (USD, pay-as-you-go), from /work/shared/reference/providers.md §1.

Units never collide across capabilities except tokens, so the ``"*"`` row can serve every capability: an unlisted
chat model is billed like gpt-4o-mini (the cheapest listed), an unlisted TTS model like tts-1 per character, an
unlisted STT model reporting seconds like whisper-1.
"""

from __future__ import annotations

from decimal import Decimal

from providers.base import PriceTable, Unit, per_million

_GPT_4O_MINI = {Unit.INPUT_TOKEN: per_million("0.15"), Unit.OUTPUT_TOKEN: per_million("0.60")}
_TTS_1 = {Unit.CHARACTER: per_million("15.00")}
_WHISPER = {Unit.AUDIO_SECOND: Decimal("0.006") / 60}
# gpt-4o-mini-tts bills text input tokens and audio output tokens, never characters: it is only priced right when
# the usage event of a stream_format=sse response was read (the adapter always asks for SSE for these models).
_GPT_4O_MINI_TTS = {Unit.INPUT_TOKEN: per_million("0.60"), Unit.OUTPUT_TOKEN: per_million("12.00")}
_GPT_4O_TRANSCRIBE = {Unit.INPUT_TOKEN: per_million("2.50"), Unit.OUTPUT_TOKEN: per_million("10.00")}
_GPT_4O_MINI_TRANSCRIBE = {Unit.INPUT_TOKEN: per_million("1.25"), Unit.OUTPUT_TOKEN: per_million("5.00")}

PRICES = PriceTable(
    as_of="2026-08-21",
    prices={
        # text-to-speech
        "tts-1": _TTS_1,
        "tts-1-hd": {Unit.CHARACTER: per_million("30.00")},
        "gpt-4o-mini-tts": _GPT_4O_MINI_TTS,
        "gpt-4o-mini-tts-2025-12-15": _GPT_4O_MINI_TTS,
        # speech-to-text
        "whisper-1": _WHISPER,
        "gpt-4o-transcribe": _GPT_4O_TRANSCRIBE,
        "gpt-4o-mini-transcribe": _GPT_4O_MINI_TRANSCRIBE,
        "gpt-4o-mini-transcribe-2025-12-15": _GPT_4O_MINI_TRANSCRIBE,
        # chat
        "gpt-4o-mini": _GPT_4O_MINI,
        "gpt-4o": {Unit.INPUT_TOKEN: per_million("2.50"), Unit.OUTPUT_TOKEN: per_million("10.00")},
        "gpt-5.4-mini": {Unit.INPUT_TOKEN: per_million("0.75"), Unit.OUTPUT_TOKEN: per_million("4.50")},
        "*": {**_GPT_4O_MINI, **_TTS_1, **_WHISPER},
    },
)

# Before a gpt-4o-mini-tts call there are no tokens to price; OpenAI's own estimate is ≈ $0.015 per minute of audio,
# and speech runs ≈ 900 characters a minute, so budgets reserve this much per character.
TOKEN_TTS_ESTIMATE_PER_CHARACTER = Decimal("0.015") / 900
