"""Deepgram's realtime wire formats, owned by its package: Nova/Flux messages as neutral events, Aura's speak
messages, URLs, auth and prices (pure functions; the relays drive them against the WebSocket fake elsewhere)."""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest

from gateway.errors import ErrorClass, ProviderError
from providers import get_provider
from providers.base import Call, Credentials
from providers.deepgram import realtime
from providers.realtime.events import Other, Transcript, Turn
from providers.realtime.routes import ListenOptions, SpeakOptions
from providers.realtime.speak import AUDIO, CLEARED, FLUSHED, WARNING


def call(key: str | None = "dg-key", base: str = "https://api.deepgram.com") -> Call:
    return Call(http=None, credentials=Credentials(api_key=key, base_url=base), timeout=2.0)  # type: ignore[arg-type]


def test_the_provider_declares_its_routes() -> None:
    provider = get_provider("deepgram")
    assert [(r.model, r.protocol.name) for r in provider.listen_routes] == [("flux", "flux"), ("nova-3", "nova")]
    assert [r.protocol.name for r in provider.speak_routes] == ["aura"]


def test_nova_results_become_transcripts_and_other_events() -> None:
    message = {
        "type": "Results", "start": 1.5, "duration": 0.5, "is_final": True, "speech_final": True,
        "channel": {"alternatives": [{"transcript": "hello world", "words": [
            {"word": "hello", "punctuated_word": "Hello", "start": 1.5, "end": 1.7, "confidence": 0.9},
            {"word": "world", "start": 1.8, "end": 2.0},
        ]}]},
    }  # fmt: skip
    (event,) = realtime.NOVA.translate(message)
    assert isinstance(event, Transcript)
    assert (event.text, event.is_final, event.speech_final, event.start, event.end) == ("hello world", True, True,
                                                                                         1.5, 2.0)  # fmt: skip
    assert [w.word for w in event.words] == ["Hello", "world"]
    (end,) = realtime.NOVA.translate({"type": "UtteranceEnd", "last_word_end": 2.0})
    assert isinstance(end, Other) and end.shifted(1.0).fields == {"last_word_end": 3.0}
    assert realtime.NOVA.translate({"type": "Results", "channel": {}}) == ()
    assert realtime.NOVA.is_last({"type": "Metadata"}) and not realtime.NOVA.is_last({"type": "Results"})
    assert realtime.NOVA.keepalive(16000, 2) == json.dumps({"type": "KeepAlive"})
    assert realtime.NOVA.error_of({"type": "Error", "code": "NET-0001", "description": "idle"}) == "NET-0001: idle"


def test_flux_turn_info_becomes_turns_and_its_keepalive_is_silence() -> None:
    update = realtime.FLUX.translate({"type": "TurnInfo", "event": "Update", "transcript": "hel",
                                      "audio_window_start": 0.0, "audio_window_end": 0.4})  # fmt: skip
    assert isinstance(update[0], Transcript) and not update[0].is_final
    final, turn = realtime.FLUX.translate({"type": "TurnInfo", "event": "EndOfTurn", "transcript": "hello",
                                           "turn_index": 2, "audio_window_start": 0.0, "audio_window_end": 0.8,
                                           "end_of_turn_confidence": 0.8})  # fmt: skip
    assert isinstance(final, Transcript) and final.is_final and final.speech_final
    assert isinstance(turn, Turn) and (turn.event, turn.turn_index) == ("EndOfTurn", 2)
    assert realtime.FLUX.emits_turns and not realtime.NOVA.emits_turns
    assert realtime.FLUX.keepalive(16000, 2) == bytes(3200)  # 100 ms of silence: Flux has no KeepAlive message
    assert realtime.FLUX.close_stream() == json.dumps({"type": "CloseStream"})


def test_aura_speak_messages_and_events() -> None:
    assert [json.loads(m) for m in realtime.AURA.speak("Hi.")] == [{"type": "Speak", "text": "Hi."}, {"type": "Flush"}]
    assert json.loads(realtime.AURA.clear()) == {"type": "Clear"}
    assert json.loads(realtime.AURA.close() or "") == {"type": "Close"}
    audio = realtime.AURA.translate(b"\x01\x02")
    assert audio is not None and (audio.kind, audio.audio) == (AUDIO, b"\x01\x02")
    assert realtime.AURA.translate(json.dumps({"type": "Flushed", "sequence_id": 0})).kind == FLUSHED  # type: ignore[union-attr]
    assert realtime.AURA.translate(json.dumps({"type": "Cleared"})).kind == CLEARED  # type: ignore[union-attr]
    warning = realtime.AURA.translate(json.dumps({"type": "Warning", "code": "W1", "description": "slow"}))
    assert warning is not None and warning.kind == WARNING and warning.fields == {"code": "W1", "description": "slow"}
    assert realtime.AURA.translate("not json") is None
    assert realtime.AURA.translate(json.dumps({"type": "Metadata"})) is None


def test_urls_auth_and_model_names() -> None:
    flux, nova = realtime.LISTEN_ROUTES
    url, headers = flux.connect(call(), ListenOptions(model="flux", sample_rate=8000))
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("wss", "api.deepgram.com", "/v2/listen")
    assert parse_qs(parts.query) == {"model": ["flux-general-en"], "encoding": ["linear16"], "sample_rate": ["8000"]}
    assert headers == {"Authorization": "Token dg-key"}
    url, _ = flux.connect(call(), ListenOptions(model="flux", language="de"))
    assert parse_qs(urlsplit(url).query)["model"] == ["flux-general-multi"]
    assert parse_qs(urlsplit(url).query)["language_hint"] == ["de"]
    url, _ = nova.connect(call(base="http://127.0.0.1:9"), ListenOptions(model="nova-3", language="en-US"))
    assert url.startswith("ws://127.0.0.1:9/v1/listen?")
    assert parse_qs(urlsplit(url).query)["language"] == ["en-US"]
    (aura,) = realtime.SPEAK_ROUTES
    url, headers, model = aura.connect(call(), SpeakOptions(voice="orion", sample_rate=16000))
    assert model == "aura-2-orion-en" and "/v1/speak?" in url and "sample_rate=16000" in url
    assert aura.model(call(), SpeakOptions(voice="male")) == "aura-2-thalia-en"  # aliases: the default voice
    with pytest.raises(ProviderError) as caught:
        flux.connect(call(key=None), ListenOptions(model="flux"))
    assert caught.value.error_class == ErrorClass.AUTH


def per_minute(cost: Decimal) -> Decimal:
    return cost.quantize(Decimal("0.000001"))  # list prices are per minute; routes keep them per second


def test_streaming_prices() -> None:
    flux, nova = realtime.LISTEN_ROUTES
    assert per_minute(flux.cost(60)) == Decimal("0.0065")
    assert per_minute(nova.cost(60)) == Decimal("0.0077")
    (aura,) = realtime.SPEAK_ROUTES
    assert aura.cost(1000, "aura-2-thalia-en") == Decimal("0.030")
    assert aura.cost(1000, "aura-asteria-en") == Decimal("0.015")  # Aura-1 voices at Aura-1's price
    assert aura.serves_rate(8000) and aura.serves_rate(48000)
