"""ElevenLabs adapter: pure wire-format functions, then the contract against the fake ElevenLabs on loopback."""

from __future__ import annotations

import json
import math
import struct
from decimal import Decimal

import httpx
import pytest

from gateway.errors import ErrorClass, ProviderError
from providers.base import Call, Credentials, SynthesisRequest, TranscriptionRequest, Unit
from providers.elevenlabs import (
    FLASH_PER_CHAR,
    MULTILINGUAL_PER_CHAR,
    SCRIBE_PER_SECOND,
    ElevenLabsProvider,
    describe_error,
    output_format,
    parse_transcription,
    speech_body,
    transcription_form,
    tts_model,
)
from tests.fakes.audio import sine_wav
from tests.fakes.elevenlabs import API_KEY, create_app, parse_multipart
from tests.fakes.harness import FakeServer, FakeState, Fault
from tests.providers.loopback import loopback_fixtures, make_call
from tests.providers.stream_failure import stream_failure

provider = ElevenLabsProvider()
RACHEL, ADAM = "21m00Tcm4TlvDq8ikWAM", "pNInz6obpgDQGcFmaJgB"


# -- pure wire format ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fmt", "rate", "expected"),
    [
        ("mp3", None, "mp3_44100_128"),
        ("mp3", 22050, "mp3_22050_32"),
        ("pcm", None, "pcm_24000"),
        ("pcm", 16000, "pcm_16000"),
        ("wav", 44100, "wav_44100"),
        ("opus", None, "opus_48000_64"),
    ],
)
def test_output_format_per_format_and_rate(fmt: str, rate: int | None, expected: str) -> None:
    assert output_format(SynthesisRequest(text="hi", format=fmt, sample_rate=rate)) == expected


@pytest.mark.parametrize(("fmt", "rate"), [("pcm", 11025), ("opus", 24000), ("mp3", 16000), ("flac", None)])
def test_output_format_rejects_what_elevenlabs_cannot_produce(fmt: str, rate: int | None) -> None:
    with pytest.raises(ProviderError) as caught:
        output_format(SynthesisRequest(text="hi", format=fmt, sample_rate=rate))
    assert caught.value.error_class is ErrorClass.UNSUPPORTED


def test_speech_body_sends_language_only_to_models_that_take_it() -> None:
    request = SynthesisRequest(text="Hola", language="es-MX", speed=1.1)
    assert speech_body(request, "eleven_flash_v2_5") == {
        "text": "Hola",
        "model_id": "eleven_flash_v2_5",
        "language_code": "es",
        "voice_settings": {"speed": 1.1},
    }
    assert speech_body(request, "eleven_multilingual_v2") == {
        "text": "Hola",
        "model_id": "eleven_multilingual_v2",
        "voice_settings": {"speed": 1.1},
    }
    assert speech_body(SynthesisRequest(text="Hi"), "eleven_flash_v2_5") == {
        "text": "Hi",
        "model_id": "eleven_flash_v2_5",
    }


def test_tts_model_ignores_other_vendors_models_and_guards_english_only_ones() -> None:
    assert tts_model(SynthesisRequest(text="hi", model="tts-1"), "eleven_flash_v2_5") == "eleven_flash_v2_5"
    assert tts_model(SynthesisRequest(text="hi", model="eleven_multilingual_v2"), "x") == "eleven_multilingual_v2"
    with pytest.raises(ProviderError):
        tts_model(SynthesisRequest(text="hi", model="eleven_turbo_v2", language="fr"), "x")
    assert not provider.supports_synthesis(SynthesisRequest(text="hi", model="eleven_turbo_v2", language="fr"))
    assert provider.supports_synthesis(SynthesisRequest(text="hi", language="fr"))
    assert not provider.supports_synthesis(SynthesisRequest(text="hi", format="pcm", sample_rate=11025))


def test_voice_aliases_resolve_to_comparable_voices() -> None:
    assert provider.resolve_voice(None) == RACHEL
    assert provider.resolve_voice("Male") == ADAM
    assert provider.resolve_voice("neutral") == RACHEL
    assert provider.resolve_voice("EXAVITQu4vr4xnSDxMaL") == "EXAVITQu4vr4xnSDxMaL"  # ids are case-sensitive


def test_transcription_form() -> None:
    request = TranscriptionRequest(audio=b"", content_type="audio/wav", diarize=True, language="de")
    form = transcription_form(request, "scribe_v1")
    assert (form["model_id"], form["diarize"], form["language_code"]) == ("scribe_v1", "true", "de")
    assert "language_code" not in transcription_form(
        TranscriptionRequest(audio=b"", content_type="audio/wav"), "scribe_v1"
    )


def test_parse_transcription_keeps_only_words() -> None:
    body = {
        "language_code": "en",
        "text": "Hello world (laughs)",
        "audio_duration_secs": 12.3,
        "words": [
            {"text": "Hello", "start": 0.1, "end": 0.4, "type": "word", "speaker_id": "speaker_0", "logprob": -0.1},
            {"text": " ", "start": 0.4, "end": 0.5, "type": "spacing", "speaker_id": "speaker_0"},
            {"text": "world", "start": 0.5, "end": 0.9, "type": "word", "speaker_id": "speaker_1", "logprob": -0.3},
            {"text": "(laughs)", "start": 1.0, "end": 1.5, "type": "audio_event"},
        ],
    }
    result = parse_transcription(
        body, TranscriptionRequest(audio=b"", content_type="audio/wav", duration=1.0), "scribe_v1"
    )
    assert [(w.word, w.speaker) for w in result.words] == [("Hello", "speaker_0"), ("world", "speaker_1")]
    assert result.words[0].confidence == pytest.approx(math.exp(-0.1))
    assert result.confidence == pytest.approx((math.exp(-0.1) + math.exp(-0.3)) / 2)
    assert (result.duration, result.language, result.model) == (12.3, "en", "scribe_v1")


def test_parse_transcription_duration_fallbacks_and_malformed() -> None:
    body = {"text": "hi", "words": [{"text": "hi", "start": 0.0, "end": 0.7, "type": "word"}]}
    assert parse_transcription(body, TranscriptionRequest(b"", "audio/wav", duration=2.0), "scribe_v1").duration == 2.0
    assert parse_transcription(body, TranscriptionRequest(b"", "audio/wav"), "scribe_v1").duration == 0.7
    for broken in ({"words": []}, [], {"text": "x", "words": [{"type": "word"}]}):
        with pytest.raises(ProviderError) as caught:
            parse_transcription(broken, TranscriptionRequest(b"", "audio/wav"), "scribe_v1")
        assert caught.value.error_class is ErrorClass.MALFORMED


@pytest.mark.parametrize(
    ("status", "code", "error_class"),
    [
        (401, "invalid_api_key", ErrorClass.AUTH),
        (401, "quota_exceeded", ErrorClass.QUOTA),
        (429, "too_many_concurrent_requests", ErrorClass.RATE_LIMITED),
        (429, "system_busy", ErrorClass.SERVER),
        (400, "voice_not_found", ErrorClass.UNSUPPORTED),
        (400, "max_character_limit_exceeded", ErrorClass.INVALID_INPUT),
        (400, "something_new", None),
    ],
)
def test_describe_error_reads_detail_status(status: int, code: str, error_class: ErrorClass | None) -> None:
    message, override = describe_error(status, {"detail": {"status": code, "message": "Because."}}, "")
    assert (message, override) == (f"{code}: Because.", error_class)


def test_describe_error_reads_validation_lists_and_plain_bodies() -> None:
    body = {"detail": [{"loc": ["body", "text"], "msg": "field required", "type": "value_error.missing"}]}
    assert describe_error(422, body, "") == ("body.text: field required", ErrorClass.INVALID_INPUT)
    assert describe_error(502, None, "Bad Gateway") == ("Bad Gateway", None)
    assert describe_error(400, {"detail": "Bad thing"}, "") == ("Bad thing", None)


def test_prices() -> None:
    assert provider.prices.for_model("eleven_flash_v2_5")[Unit.CHARACTER] == FLASH_PER_CHAR == Decimal("0.00005")
    assert provider.prices.for_model("eleven_turbo_v2_5")[Unit.CHARACTER] == FLASH_PER_CHAR
    assert provider.prices.for_model("eleven_multilingual_v2")[Unit.CHARACTER] == MULTILINGUAL_PER_CHAR
    assert provider.prices.for_model("scribe_v1")[Unit.AUDIO_SECOND] * 3600 == Decimal("0.22")


def test_multipart_parser_of_the_fake_round_trips_httpx_uploads() -> None:
    audio = sine_wav(0.1) + b"\r\n--tricky\r\n"
    request = httpx.Request(
        "POST", "http://x", data={"model_id": "scribe_v1"}, files={"file": ("a.wav", audio, "audio/wav")}
    )
    fields = parse_multipart(request.headers["content-type"], request.read())
    assert fields["model_id"] == (None, b"scribe_v1") and fields["file"] == ("a.wav", audio)


# -- contract against the fake ---------------------------------------------------------------------------------
server, state, http = loopback_fixtures(create_app)


@pytest.fixture(autouse=True)
def fresh_state(state: FakeState) -> None:
    """Every test starts from a reset fake (the ``state`` fixture resets it)."""


@pytest.fixture
def call(http: httpx.AsyncClient, server: FakeServer) -> Call:
    return make_call(http, server, API_KEY)


@pytest.mark.parametrize(
    ("fmt", "magic", "query"),
    [("mp3", b"\xff\xfb", "mp3_44100_128"), ("wav", b"RIFF", "wav_24000"), ("opus", b"OggS", "opus_48000_64")],
)
async def test_synthesize_returns_real_audio_per_format(
    call: Call, server: FakeServer, fmt: str, magic: bytes, query: str
) -> None:
    result = await provider.synthesize(call, SynthesisRequest(text="Hello there", format=fmt, voice="male", speed=0.9))
    assert result.audio.startswith(magic)
    assert (result.model, result.characters) == ("eleven_flash_v2_5", 11)
    sent = server.state.requests[-1]
    assert (sent.method, sent.path, sent.query) == ("POST", f"/v1/text-to-speech/{ADAM}", f"output_format={query}")
    assert sent.headers["xi-api-key"] == API_KEY
    assert json.loads(sent.body) == {
        "text": "Hello there",
        "model_id": "eleven_flash_v2_5",
        "voice_settings": {"speed": 0.9},
    }


async def test_synthesize_wav_and_pcm_honour_the_sample_rate(call: Call, server: FakeServer) -> None:
    server.state.options["seconds"] = 0.75
    wav = await provider.synthesize(call, SynthesisRequest(text="Hello", format="wav", sample_rate=16000))
    assert struct.unpack("<I", wav.audio[24:28])[0] == 16000 and wav.content_type == "audio/wav"
    assert wav.duration == pytest.approx(0.75)
    pcm = await provider.synthesize(call, SynthesisRequest(text="Hello", format="pcm", sample_rate=22050))
    assert pcm.content_type == "audio/pcm" and pcm.duration == pytest.approx(0.75, abs=1e-3)
    mp3 = await provider.synthesize(call, SynthesisRequest(text="Hello", format="mp3"))
    assert mp3.duration == pytest.approx(0.75, abs=0.03)


async def test_billed_characters_come_from_character_cost(call: Call, server: FakeServer) -> None:
    server.state.options["character_cost"] = 5
    assert (await provider.synthesize(call, SynthesisRequest(text="Hello there"))).characters == 5


async def test_language_reaches_models_that_accept_it(call: Call, server: FakeServer) -> None:
    await provider.synthesize(call, SynthesisRequest(text="Hola", language="es"))
    assert json.loads(server.state.requests[-1].body)["language_code"] == "es"
    await provider.synthesize(call, SynthesisRequest(text="Hola", language="es", model="eleven_multilingual_v2"))
    assert "language_code" not in json.loads(server.state.requests[-1].body)


async def test_stream_synthesis_uses_the_stream_endpoint(call: Call, server: FakeServer) -> None:
    request = SynthesisRequest(text="Hello there, streaming", format="wav", voice="female")
    chunks = [chunk async for chunk in provider.stream_synthesis(call, request)]
    assert len(chunks) > 1 and chunks[0].startswith(b"RIFF")
    assert server.state.requests[-1].path == f"/v1/text-to-speech/{RACHEL}/stream"
    assert b"".join(chunks) == (await provider.synthesize(call, request)).audio


async def test_transcribe_uploads_multipart_and_reads_scribe_words(call: Call, server: FakeServer) -> None:
    server.state.options["audio_event"] = "(laughs)"
    audio = sine_wav(2.0, 16000)
    request = TranscriptionRequest(audio=audio, content_type="audio/wav", diarize=True, language="en")
    result = await provider.transcribe(call, request)
    assert result.text == "hello from the fake elevenlabs"
    assert [w.word for w in result.words] == ["hello", "from", "the", "fake", "elevenlabs"]
    assert {w.speaker for w in result.words} == {"speaker_0", "speaker_1"}
    assert result.duration == pytest.approx(2.0) and result.language == "en"
    assert result.confidence == pytest.approx(math.exp(-0.05))
    sent = server.state.requests[-1]
    fields = parse_multipart(sent.headers["content-type"], sent.body)
    assert fields["file"] == ("audio.wav", audio)
    assert (fields["model_id"][1], fields["diarize"][1], fields["language_code"][1]) == (b"scribe_v1", b"true", b"en")


async def test_transcribe_without_reported_duration_uses_the_measured_one(call: Call, server: FakeServer) -> None:
    server.state.options.update(omit_duration=True, transcript="one two")
    request = TranscriptionRequest(audio=sine_wav(1.0), content_type="audio/wav", duration=1.0)
    result = await provider.transcribe(call, request)
    assert (result.text, result.duration) == ("one two", 1.0)


async def test_transcribe_rejects_data_that_is_not_audio(call: Call) -> None:
    with pytest.raises(ProviderError) as caught:
        await provider.transcribe(call, TranscriptionRequest(audio=b"plain text", content_type="audio/wav"))
    assert (caught.value.error_class, caught.value.status) == (ErrorClass.INVALID_INPUT, 400)


async def test_unknown_voice_is_unsupported(call: Call) -> None:
    with pytest.raises(ProviderError) as caught:
        await provider.synthesize(call, SynthesisRequest(text="hi", voice="alloy"))
    assert caught.value.error_class is ErrorClass.UNSUPPORTED and "voice_not_found" in caught.value.message


async def test_probe_and_bad_key(call: Call, server: FakeServer) -> None:
    await provider.probe(call)
    assert server.state.requests[-1].path == "/v1/models"
    bad = Call(http=call.http, credentials=Credentials(api_key="secret-wrong-key", base_url=server.url), timeout=2)
    with pytest.raises(ProviderError) as caught:
        await provider.synthesize(bad, SynthesisRequest(text="hi"))
    assert caught.value.error_class is ErrorClass.AUTH
    assert "invalid_api_key" in caught.value.message and "secret-wrong-key" not in caught.value.message


@pytest.mark.parametrize(
    ("status", "body", "error_class"),
    [
        (400, None, ErrorClass.INVALID_INPUT),  # max_character_limit_exceeded
        (401, None, ErrorClass.AUTH),  # invalid_api_key
        (401, {"detail": {"status": "quota_exceeded", "message": "Quota exceeded."}}, ErrorClass.QUOTA),
        (404, None, ErrorClass.UNSUPPORTED),  # voice_not_found
        (422, None, ErrorClass.INVALID_INPUT),
        (429, None, ErrorClass.RATE_LIMITED),  # too_many_concurrent_requests
        (429, {"detail": {"status": "system_busy", "message": "Busy."}}, ErrorClass.SERVER),
        (500, None, ErrorClass.SERVER),
        (503, None, ErrorClass.SERVER),
    ],
)
async def test_documented_errors_map_to_classes(
    call: Call, server: FakeServer, status: int, body: dict[str, object] | None, error_class: ErrorClass
) -> None:
    server.state.fail(Fault("status", status=status, body=body), Fault("status", status=status, body=body))
    with pytest.raises(ProviderError) as tts:
        await provider.synthesize(call, SynthesisRequest(text="hi"))
    with pytest.raises(ProviderError) as stt:
        await provider.transcribe(call, TranscriptionRequest(audio=sine_wav(0.2), content_type="audio/wav"))
    for caught in (tts, stt):
        assert (caught.value.error_class, caught.value.status, caught.value.retry_after) == (error_class, status, None)


async def test_rate_limit_honours_retry_after_when_present(call: Call, server: FakeServer) -> None:
    server.state.fail(Fault("status", status=429, retry_after="3"))
    caught, _ = await stream_failure(provider.stream_synthesis(call, SynthesisRequest(text="hi")))
    assert (caught.value.error_class, caught.value.retry_after) == (ErrorClass.RATE_LIMITED, 3.0)


async def test_malformed_bodies(call: Call, server: FakeServer) -> None:
    server.state.fail(Fault("malformed"), Fault("malformed"), Fault("malformed"))
    with pytest.raises(ProviderError) as tts:
        await provider.synthesize(call, SynthesisRequest(text="hi"))
    stream, _ = await stream_failure(provider.stream_synthesis(call, SynthesisRequest(text="hi")))
    with pytest.raises(ProviderError) as stt:
        await provider.transcribe(call, TranscriptionRequest(audio=sine_wav(0.2), content_type="audio/wav"))
    assert tts.value.error_class is stream.value.error_class is stt.value.error_class is ErrorClass.MALFORMED


async def test_body_cut_midway_is_a_connection_error(call: Call, server: FakeServer) -> None:
    server.state.fail(Fault("cut", after_chunks=1), Fault("cut", after_chunks=1), Fault("cut", after_chunks=2))
    with pytest.raises(ProviderError) as tts:
        await provider.synthesize(call, SynthesisRequest(text="Hello there"))
    with pytest.raises(ProviderError) as stt:
        await provider.transcribe(call, TranscriptionRequest(audio=sine_wav(0.2), content_type="audio/wav"))
    stream, received = await stream_failure(
        provider.stream_synthesis(call, SynthesisRequest(text="Hello there", format="wav"))
    )
    assert tts.value.error_class is stt.value.error_class is stream.value.error_class is ErrorClass.CONNECTION
    assert received and received[0].startswith(b"RIFF")


async def test_hang_times_out(call: Call, server: FakeServer) -> None:
    server.state.fail(Fault("hang"))
    call.timeout = 0.3
    with pytest.raises(ProviderError) as caught:
        await provider.synthesize(call, SynthesisRequest(text="hi"))
    assert caught.value.error_class is ErrorClass.TIMEOUT


async def test_stream_stalling_between_chunks_times_out(call: Call, server: FakeServer) -> None:
    server.state.options["chunk_delay"] = 0.6
    call.timeout = 0.3
    caught, received = await stream_failure(
        provider.stream_synthesis(call, SynthesisRequest(text="Hello there", format="wav"))
    )
    assert caught.value.error_class is ErrorClass.TIMEOUT and received


async def test_costs_are_list_price_times_reported_units(call: Call, server: FakeServer) -> None:
    server.state.options["character_cost"] = 1000
    flash = await provider.synthesize(call, SynthesisRequest(text="Hello there"))
    assert provider.synthesis_cost(flash) == FLASH_PER_CHAR * 1000 == Decimal("0.05")
    multi = await provider.synthesize(call, SynthesisRequest(text="Hello there", model="eleven_multilingual_v2"))
    assert provider.synthesis_cost(multi) == MULTILINGUAL_PER_CHAR * 1000 == Decimal("0.1")
    stt = await provider.transcribe(call, TranscriptionRequest(audio=sine_wav(3.0), content_type="audio/wav"))
    assert stt.duration == pytest.approx(3.0)
    assert provider.transcription_cost(stt) == SCRIBE_PER_SECOND * Decimal(str(stt.duration))
