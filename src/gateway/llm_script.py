"""Seed 001's lesson scripts: the prompt that asks a model for a spoken lesson as JSON, and the tolerant parser of
whatever the model actually answered (bare JSON, JSON in a markdown fence, JSON inside prose, or no JSON at all).

Pure functions: no I/O, so the route stays thin and the parsing is tested on its own.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from providers.base import ChatMessage

WORDS_PER_MINUTE = 150  # a comfortable narration pace; the prompt and the fallback estimate both use it

LANGUAGE_NAMES = {
    "en": "English", "es": "Spanish", "fr": "French", "de": "German", "it": "Italian", "pt": "Portuguese",
    "nl": "Dutch", "ja": "Japanese", "zh": "Chinese", "ko": "Korean", "hi": "Hindi", "ar": "Arabic",
    "ru": "Russian", "pl": "Polish", "sv": "Swedish", "tr": "Turkish",
}  # fmt: skip

SYSTEM_PROMPT = (
    "You are an expert instructional designer who writes scripts for spoken audio lessons. "
    "You answer with a single JSON object and nothing else: no markdown, no code fences, no commentary."
)

USER_TEMPLATE = """Write the narration script for a spoken {difficulty} lesson about "{topic}" in {language}.

The lesson is listened to, not read: write natural spoken sentences, no bullet points, no markdown, no URLs.
Target length: {minutes} minute(s) of audio, about {words} words in total at {wpm} words per minute.
Split it into {sections} section(s). Base the content on the source document below; do not invent facts it
contradicts.

Answer with exactly this JSON shape:
{{"title": string, "sections": [{{"heading": string, "narration": string, "duration_seconds": integer}}], "summary": string}}
The duration_seconds of all sections should add up to about {seconds}.

Source document:
<<<
{document}
>>>"""


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code.lower().split("-")[0], code)


def section_count(minutes: int) -> int:
    """Roughly one section per two to three minutes: enough structure without chopping a short lesson."""
    return max(1, min(12, round(minutes / 2.5)))


def script_messages(
    document: str, *, topic: str, difficulty: str, minutes: int, language: str
) -> tuple[ChatMessage, ...]:
    prompt = USER_TEMPLATE.format(
        difficulty=difficulty,
        topic=topic,
        language=language_name(language),
        minutes=minutes,
        words=minutes * WORDS_PER_MINUTE,
        wpm=WORDS_PER_MINUTE,
        sections=section_count(minutes),
        seconds=minutes * 60,
        document=document,
    )
    return (ChatMessage("system", SYSTEM_PROMPT), ChatMessage("user", prompt))


def max_tokens_for(minutes: int) -> int:
    """Room for the narration (≈ 1.4 tokens a word in English, more elsewhere) plus the JSON around it."""
    return min(32000, int(minutes * WORDS_PER_MINUTE * 2) + 400)


def spoken_seconds(text: str) -> int:
    return max(1, math.ceil(len(text.split()) / WORDS_PER_MINUTE * 60))


_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\r?\n?(.*?)```", re.DOTALL)


def _as_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _candidates(text: str) -> list[str]:
    """What to try parsing, most faithful first: the answer, each fenced block, then the outermost {...}."""
    stripped = text.strip()
    out = [stripped]
    out.extend(m.group(1).strip() for m in _FENCE.finditer(stripped))
    start, end = stripped.find("{"), stripped.rfind("}")
    if 0 <= start < end:
        out.append(stripped[start : end + 1])
    return out


def _well_formed(script: dict[str, Any]) -> bool:
    sections = script.get("sections")
    return isinstance(sections, list) and all(isinstance(s, dict) for s in sections)


def parse_script(text: str, *, topic: str) -> dict[str, Any]:
    """The model's answer as a script object; never raises. A non-JSON answer keeps the text as one section and says
    so with ``parse_fallback: true`` (the caller still paid for it, and the narration is usually fine)."""
    for candidate in _candidates(text):
        script = _as_object(candidate)
        if script is not None and _well_formed(script):
            return _normalised(script, topic)
    narration = text.strip()
    return {
        "title": topic,
        "sections": [{"heading": topic, "narration": narration, "duration_seconds": spoken_seconds(narration)}],
        "summary": "",
        "parse_fallback": True,
    }


def _normalised(script: dict[str, Any], topic: str) -> dict[str, Any]:
    """Fill what the model left out so clients can rely on the documented keys; keep anything extra it added."""
    sections = []
    for index, section in enumerate(script["sections"]):
        narration = str(section.get("narration") or "")
        duration = section.get("duration_seconds")
        if not isinstance(duration, (int, float)) or isinstance(duration, bool) or duration <= 0:
            duration = spoken_seconds(narration)
        sections.append({**section, "heading": str(section.get("heading") or f"Part {index + 1}"),
                         "narration": narration, "duration_seconds": duration})  # fmt: skip
    return {
        **script,
        "title": str(script.get("title") or topic),
        "sections": sections,
        "summary": str(script.get("summary") or ""),
    }
