"""The lesson-script prompt and the tolerant parsing of what models actually answer."""

from __future__ import annotations

import json

from gateway import llm_script

SCRIPT = {
    "title": "Photosynthesis",
    "sections": [
        {"heading": "Light", "narration": "Plants catch light with chlorophyll.", "duration_seconds": 30},
        {"heading": "Sugar", "narration": "They turn carbon dioxide into sugar.", "duration_seconds": 30},
    ],
    "summary": "Light becomes food.",
}


def test_prompt_asks_for_the_json_shape_and_the_target_length() -> None:
    system, user = llm_script.script_messages(
        "Chlorophyll absorbs {red} light.", topic="Photosynthesis", difficulty="beginner", minutes=4, language="fr"
    )
    assert system.role == "system" and "JSON" in system.content
    assert user.role == "user"
    assert '"title"' in user.content and '"sections"' in user.content and '"duration_seconds"' in user.content
    assert "600 words" in user.content  # 4 minutes × 150 words per minute
    assert "about 240" in user.content  # seconds
    assert "French" in user.content and "beginner" in user.content and '"Photosynthesis"' in user.content
    assert "Chlorophyll absorbs {red} light." in user.content  # braces in the document survive formatting


def test_output_budget_grows_with_the_lesson_and_stays_bounded() -> None:
    assert llm_script.max_tokens_for(1) < llm_script.max_tokens_for(10) <= 32000
    assert llm_script.max_tokens_for(120) == 32000


def test_bare_json_is_parsed() -> None:
    assert llm_script.parse_script(json.dumps(SCRIPT), topic="x") == SCRIPT


def test_fenced_json_with_prose_around_it_is_parsed() -> None:
    answer = f"Sure! Here is your script:\n```json\n{json.dumps(SCRIPT, indent=2)}\n```\nEnjoy."
    assert llm_script.parse_script(answer, topic="x") == SCRIPT


def test_outermost_object_inside_prose_is_parsed() -> None:
    answer = f"Here you go: {json.dumps(SCRIPT)} -- let me know if you want changes."
    assert llm_script.parse_script(answer, topic="x") == SCRIPT


def test_missing_fields_are_filled_and_durations_estimated() -> None:
    narration = " ".join(["word"] * 300)  # 300 words at 150 wpm = 120 s
    parsed = llm_script.parse_script(json.dumps({"sections": [{"narration": narration}]}), topic="Topic")
    assert parsed["title"] == "Topic" and parsed["summary"] == ""
    assert parsed["sections"] == [{"heading": "Part 1", "narration": narration, "duration_seconds": 120}]
    assert "parse_fallback" not in parsed


def test_non_json_answer_falls_back_to_one_section_of_raw_text() -> None:
    answer = "Welcome to the lesson. " * 50  # 200 words → 80 s
    parsed = llm_script.parse_script(answer, topic="Rivers")
    assert parsed == {
        "title": "Rivers",
        "sections": [{"heading": "Rivers", "narration": answer.strip(), "duration_seconds": 80}],
        "summary": "",
        "parse_fallback": True,
    }


def test_json_of_the_wrong_shape_falls_back() -> None:
    for answer in ('["a", "b"]', '{"title": "t", "sections": "none"}', "{not json}"):
        parsed = llm_script.parse_script(answer, topic="T")
        assert parsed["parse_fallback"] is True
        assert parsed["sections"][0]["narration"] == answer
