"""Voice choice as pure functions over a catalogue shaped like espeak_ListVoices' answer."""

from __future__ import annotations

from providers.local.stt import clean_word
from providers.local.tts import words_per_minute
from providers.local.voices import VoiceCatalogue, VoiceEntry, choose_voice, voice_for_language

CATALOGUE = VoiceCatalogue.build(
    voices=[
        VoiceEntry("gmw/en", ((2, "en-gb"), (2, "en"))),
        VoiceEntry("gmw/en-US", ((2, "en-us"), (3, "en"))),
        VoiceEntry("roa/es", ((5, "es"),)),
        VoiceEntry("roa/es-419", ((5, "es-419"), (6, "es-mx"))),
        VoiceEntry("roa/pt-BR", ((5, "pt-br"), (6, "pt"))),
        VoiceEntry("roa/pt", ((5, "pt"), (5, "pt-pt"))),
    ],
    variants=[VoiceEntry("!v/f5", ((5, "variant"),)), VoiceEntry("!v/edward", ((5, "variant"),))],
)
ALIASES = {"female": "en-us+f5", "male": "en-us+edward", "neutral": "en-us"}
DEFAULT = "en-us+edward"


def choose(voice: str | None, language: str | None) -> str | None:
    return choose_voice(CATALOGUE, voice, language, ALIASES, DEFAULT)


def test_language_picks_the_best_priority_voice_but_keeps_a_preferred_voice_that_speaks_it() -> None:
    assert voice_for_language(CATALOGUE, "en", "en-us") == "en-US"  # the library would say en-GB (priority 2 < 3)
    assert voice_for_language(CATALOGUE, "en", "es") == "en"
    assert voice_for_language(CATALOGUE, "en-GB", "en-us") == "en"  # an exact tag beats the preferred voice
    assert voice_for_language(CATALOGUE, "es-MX", "en-us") == "es-419"
    assert voice_for_language(CATALOGUE, "es-ES", "en-us") == "es"  # unknown region: the primary subtag
    assert voice_for_language(CATALOGUE, "pt_BR", "en-us") == "pt-BR"
    assert voice_for_language(CATALOGUE, "pt", "en-us") == "pt"
    assert voice_for_language(CATALOGUE, "zz", "en-us") is None


def test_aliases_keep_their_timbre_in_every_language() -> None:
    assert choose(None, None) == "en-US+edward"
    assert choose("Female", None) == "en-US+f5"
    assert choose("female", "es") == "es+f5"
    assert choose("male", "pt-BR") == "pt-BR+edward"
    assert choose("neutral", "en-GB") == "en"
    assert choose(None, "xx-YY") is None


def test_explicit_voices_are_checked_against_the_catalogue() -> None:
    assert choose("EN-us+F5", "es") == "en-US+f5"  # an explicit voice wins over the language
    assert choose("en-gb", None) == "en"  # a language tag espeak lists names the file that speaks it
    assert choose("es+nosuchvariant", None) is None  # espeak would silently ignore the variant
    assert choose("alloy", None) is None


def test_speed_maps_to_words_per_minute_within_espeaks_range() -> None:
    assert words_per_minute(None) == 175
    assert words_per_minute(1.0) == 175
    assert words_per_minute(2.0) == 350
    assert words_per_minute(0.25) == 80
    assert words_per_minute(4.0) == 450
    assert words_per_minute(0) == 175


def test_decoder_tokens_are_cleaned_into_words() -> None:
    assert [clean_word(t) for t in ("<s>", "</s>", "<sil>", "[NOISE]", "++UH++", "read(2)", "hello", "")] == [
        None,
        None,
        None,
        None,
        None,
        "read",
        "hello",
        None,
    ]
