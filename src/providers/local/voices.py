"""Which espeak-ng voice speaks a request: pure functions over the voice list the library reports.

espeak-ng names a voice by its file (``en-US``, ``es``, ``pt-BR``) plus an optional variant (``+f5``, ``+edward``)
that changes timbre, not language. ``espeak_SetVoiceByName`` silently ignores an unknown variant, so variants are
checked here against the catalogue instead of trusting the library's return code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class VoiceEntry:
    """One voice as ``espeak_ListVoices`` reports it: file identifier and (priority, language) pairs."""

    identifier: str  # e.g. "gmw/en-US" or "!v/f5" for a variant
    languages: tuple[tuple[int, str], ...]

    @property
    def file_name(self) -> str:
        return self.identifier.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class VoiceCatalogue:
    by_language: Mapping[str, str]  # lowercase language tag → voice file name with the best (lowest) priority
    serves: Mapping[str, frozenset[str]]  # lowercase voice file name → lowercase language tags it speaks
    voice_names: Mapping[str, str]  # lowercase voice file name → the file name as espeak spells it
    variant_names: Mapping[str, str]  # lowercase variant file name → as spelled

    @classmethod
    def build(cls, voices: Iterable[VoiceEntry], variants: Iterable[VoiceEntry]) -> VoiceCatalogue:
        best: dict[str, tuple[int, str]] = {}
        serves: dict[str, frozenset[str]] = {}
        names: dict[str, str] = {}
        for voice in voices:
            names[voice.file_name.lower()] = voice.file_name
            serves[voice.file_name.lower()] = frozenset(lang.lower() for _, lang in voice.languages)
            for priority, lang in voice.languages:
                tag = lang.lower()
                if tag not in best or priority < best[tag][0]:
                    best[tag] = (priority, voice.file_name)
        return cls(
            by_language={tag: name for tag, (_, name) in best.items()},
            serves=serves,
            voice_names=names,
            variant_names={v.file_name.lower(): v.file_name for v in variants},
        )

    def languages(self) -> frozenset[str]:
        return frozenset(self.by_language)


def _tags(language: str) -> tuple[str, ...]:
    """``en-US`` → (``en-us``, ``en``): the exact tag first, then its primary subtag."""
    tag = language.strip().lower().replace("_", "-")
    primary = tag.split("-", 1)[0]
    return (tag,) if primary == tag else (tag, primary)


def voice_for_language(catalogue: VoiceCatalogue, language: str, preferred: str) -> str | None:
    """The voice file for ``language``: ``preferred`` when it speaks the language (so plain "en" keeps the US voice
    the recognizer understands best), else the library's own best voice for it; None if espeak has none."""
    preferred_serves = catalogue.serves.get(preferred.lower(), frozenset())
    for tag in _tags(language):
        if tag in preferred_serves:
            return catalogue.voice_names.get(preferred.lower(), preferred)
        if tag in catalogue.by_language:
            return catalogue.by_language[tag]
    return None


def canonical_voice(catalogue: VoiceCatalogue, voice: str) -> str | None:
    """``voice`` ("base" or "base+variant", any case) spelled as espeak's files are; None if either part is unknown."""
    base, _, variant = voice.strip().partition("+")
    # A voice file name ("en-US") or a language tag espeak lists ("en-gb" is spoken by the file "en").
    base_name = catalogue.voice_names.get(base.lower()) or catalogue.by_language.get(base.lower())
    if base_name is None:
        return None
    if not variant:
        return base_name
    variant_name = catalogue.variant_names.get(variant.lower())
    return f"{base_name}+{variant_name}" if variant_name else None


def choose_voice(
    catalogue: VoiceCatalogue, voice: str | None, language: str | None, aliases: Mapping[str, str], default: str
) -> str | None:
    """The espeak voice for a request, or None when it cannot be honoured.

    An alias (female/male/neutral) or no voice picks a timbre variant and the language picks the base voice; an
    explicit espeak voice is used as given (the caller chose it, language included).
    """
    alias = aliases.get(voice.lower()) if voice else default
    if alias is None:  # an explicit voice name
        return canonical_voice(catalogue, voice or "")
    base, _, variant = alias.partition("+")
    if language:
        language_base = voice_for_language(catalogue, language, base)
        if language_base is None:
            return None
        base = language_base
    return canonical_voice(catalogue, f"{base}+{variant}" if variant else base)
