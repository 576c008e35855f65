"""Deepgram adapter: pure wire-format functions, then the contract against the fake Deepgram on loopback."""

from __future__ import annotations

import struct
from decimal import Decimal

import httpx
import pytest

from gateway.errors import ErrorClass, ProviderError
from providers.base import Call, Credentials, SynthesisRequest, TranscriptionRequest, Unit
from providers.deepgram import (
    AURA1_PER_CHAR,
    AURA2_PER_CHAR,
    NOVA3_PER_SECOND,
    DeepgramProvider,
    describe_error,
    listen_params,
    parse_listen,
    speak_model,
    speak_params,
)
from tests.fakes.audio import silent_mp3, sine_wav
from tests.fakes.deepgram import API_KEY, DEFAULT_TRANSCRIPT, create_app
from tests.fakes.harness import FakeServer, FakeState, Fault
from tests.providers.loopback import loopback_fixtures, make_call
from tests.providers.stream_failure import stream_failure

provider = DeepgramProvider()


def model_for(**kwargs: object) -> str:
    request = SynthesisRequest(text="hi", **kwargs)  # type: ignore[arg-type]
    return speak_model(request, provider.resolve_voice(request.voice) or "")


# -- pure wire format ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "model"),
    [
        ({}, "aura-2-thalia-en"),
        ({"voice": "male"}, "aura-2-orion-en"),
        ({"voice": "Neutral", "language": "en-US"}, "aura-2-thalia-en"),
        ({"voice": "female", "language": "es"}, "aura-2-celeste-es"),
        ({"voice": "male", "language": "de-DE"}, "aura-2-julius-de"),
        ({"language": "ja"}, "aura-2-izanami-ja"),
        ({"voice": "nestor", "language": "es"}, "aura-2-nestor-es"),
        ({"voice": "aura-2-orpheus-en"}, "aura-2-orpheus-en"),
        ({"model": "aura-asteria-en"}, "aura-asteria-en"),
        ({"model": "gpt-4o-mini-tts", "voice": "male"}, "aura-2-orion-en"),
    ],
)
def test_speak_model_follows_voice_and_language(kwargs: dict[str, object], model: str) -> None:
    assert model_for(**kwargs) == model


@pytest.mark.parametrize("kwargs", [{"language": "pt-BR"}, {"voice": "aura-2-thalia-en", "language": "fr"}])
def test_speak_model_rejects_languages_aura_cannot_speak(kwargs: dict[str, object]) -> None:
    with pytest.raises(ProviderError) as caught:
        model_for(**kwargs)
    assert caught.value.error_class is ErrorClass.UNSUPPORTED


@pytest.mark.parametrize(
    ("fmt", "rate", "expected"),
    [
        ("mp3", None, {"encoding": "mp3"}),
        ("wav", None, {"encoding": "linear16", "container": "wav", "sample_rate": "24000"}),
        ("pcm", 16000, {"encoding": "linear16", "container": "none", "sample_rate": "16000"}),
        ("opus", None, {"encoding": "opus", "container": "ogg"}),
    ],
)
def test_speak_params_per_format(fmt: str, rate: int | None, expected: dict[str, str]) -> None:
    params = speak_params(SynthesisRequest(text="hi", format=fmt, sample_rate=rate), "aura-2-thalia-en")
    assert params == {"model": "aura-2-thalia-en", **expected}


def test_speak_params_carry_speed() -> None:
    assert speak_params(SynthesisRequest(text="hi", speed=1.25), "m")["speed"] == "1.25"


def test_supports_synthesis_checks_length_rate_and_language() -> None:
    assert provider.supports_synthesis(SynthesisRequest(text="x" * 2000, format="wav", sample_rate=16000))
    assert not provider.supports_synthesis(SynthesisRequest(text="x" * 2001))
    assert not provider.supports_synthesis(SynthesisRequest(text="hi", format="wav", sample_rate=44100))
    assert not provider.supports_synthesis(SynthesisRequest(text="hi", format="mp3", sample_rate=44100))
    assert not provider.supports_synthesis(SynthesisRequest(text="hi", language="pt"))
    assert provider.supports_synthesis(SynthesisRequest(text="hi", language="nl"))


def test_listen_params_tie_smart_format_to_punctuation() -> None:
    request = TranscriptionRequest(audio=b"", content_type="audio/wav", punctuate=False, diarize=True, language="es")
    assert listen_params(request, "nova-3") == {
        "model": "nova-3",
        "punctuate": "false",
        "smart_format": "false",
        "diarize": "true",
        "language": "es",
    }
    assert "language" not in listen_params(TranscriptionRequest(audio=b"", content_type="audio/wav"), "nova-3")


def test_parse_listen_prefers_punctuated_words_and_reported_duration() -> None:
    body = {
        "metadata": {"duration": 25.93},
        "results": {
            "channels": [
                {
                    "alternatives": [
                        {
                            "transcript": "Hello.",
                            "confidence": 0.99,
                            "words": [
                                {
                                    "word": "hello",
                                    "start": 0.08,
                                    "end": 0.4,
                                    "confidence": 0.9,
                                    "punctuated_word": "Hello.",
                                    "speaker": 1,
                                }
                            ],
                        }
                    ]
                }
            ]
        },
    }
    result = parse_listen(body, TranscriptionRequest(audio=b"", content_type="audio/wav", duration=3.0), "nova-3")
    assert (result.text, result.confidence, result.duration, result.model) == ("Hello.", 0.99, 25.93, "nova-3")
    assert result.words[0].to_json() == {"word": "Hello.", "start": 0.08, "end": 0.4, "confidence": 0.9, "speaker": 1}


def test_parse_listen_falls_back_to_measured_duration_and_rejects_broken_bodies() -> None:
    body = {"results": {"channels": [{"alternatives": [{"transcript": "", "words": []}]}]}}
    measured = TranscriptionRequest(audio=b"", content_type="audio/wav", duration=2.5)
    assert parse_listen(body, measured, "nova-3").duration == 2.5
    unmeasured = TranscriptionRequest(audio=b"", content_type="audio/wav")
    for broken in ({"metadata": {}}, {"results": {"channels": []}}, body):
        with pytest.raises(ProviderError) as caught:
            parse_listen(broken, unmeasured, "nova-3")
        assert caught.value.error_class is ErrorClass.MALFORMED


@pytest.mark.parametrize(
    ("status", "body", "message", "override"),
    [
        (
            401,
            {"err_code": "INVALID_AUTH", "err_msg": "Invalid credentials.", "request_id": "r"},
            "INVALID_AUTH: Invalid credentials.",
            None,
        ),
        (
            400,
            {"category": "INVALID_JSON", "message": "Invalid JSON submitted.", "details": "x"},
            "INVALID_JSON: Invalid JSON submitted.",
            None,
        ),
        (503, {"error_code": "Service Unavailable"}, "Service Unavailable", None),
        (
            402,
            {"err_code": "ASR_PAYMENT_REQUIRED", "err_msg": "No credits."},
            "ASR_PAYMENT_REQUIRED: No credits.",
            ErrorClass.QUOTA,
        ),
        (
            400,
            {"err_code": "Bad Request", "err_msg": "No such model/version combination found."},
            None,
            ErrorClass.UNSUPPORTED,
        ),
        (502, None, "bad gateway", None),
    ],
)
def test_describe_error_reads_every_deepgram_error_shape(
    status: int, body: object, message: str | None, override: ErrorClass | None
) -> None:
    described, error_class = describe_error(status, body, "bad gateway")
    if message is not None:
        assert described == message
    assert error_class is override


def test_prices_follow_the_model_family() -> None:
    assert provider.prices.for_model("aura-2-nestor-es")[Unit.CHARACTER] == AURA2_PER_CHAR == Decimal("0.00003")
    assert provider.prices.for_model("aura-asteria-en")[Unit.CHARACTER] == AURA1_PER_CHAR == Decimal("0.000015")
    assert provider.estimate_synthesis_cost(SynthesisRequest(text="x" * 1000, model="aura-2")) == Decimal("0.03")
    assert provider.estimate_synthesis_cost(SynthesisRequest(text="x" * 1000)) == Decimal("0.03")
    assert provider.prices.for_model("nova-3")[Unit.AUDIO_SECOND] * 60 == Decimal("0.0043")


def test_credentials_from_env() -> None:
    assert provider.credentials_from_env({}) is None
    creds = provider.credentials_from_env({"DEEPGRAM_API_KEY": "k", "DEEPGRAM_BASE_URL": "http://127.0.0.1:9/"})
    assert creds is not None and (creds.api_key, creds.base_url) == ("k", "http://127.0.0.1:9")
    assert provider.credentials_from_env({"DEEPGRAM_API_KEY": "k"}).base_url == "https://api.deepgram.com"  # type: ignore[union-attr]


# -- contract against the fake ---------------------------------------------------------------------------------
server, state, http = loopback_fixtures(create_app)


@pytest.fixture(autouse=True)
def fresh_state(state: FakeState) -> None:
    """Every test starts from a reset fake (the ``state`` fixture resets it)."""


@pytest.fixture
def call(http: httpx.AsyncClient, server: FakeServer) -> Call:
    return make_call(http, server, API_KEY)


def wav_sample_rate(data: bytes) -> int:
    return struct.unpack("<I", data[24:28])[0]


@pytest.mark.parametrize(
    ("fmt", "magic", "content_type"),
    [("mp3", b"\xff\xfb", "audio/mpeg"), ("wav", b"RIFF", "audio/wav"), ("opus", b"OggS", "audio/ogg")],
)
async def test_synthesize_returns_real_audio_per_format(
    call: Call, server: FakeServer, fmt: str, magic: bytes, content_type: str
) -> None:
    result = await provider.synthesize(call, SynthesisRequest(text="Hello there", format=fmt, voice="male"))
    assert result.audio.startswith(magic)
    assert (result.content_type, result.model, result.characters) == (content_type, "aura-2-orion-en", 11)
    sent = server.state.requests[-1]
    assert (sent.method, sent.path) == ("POST", "/v1/speak")
    assert sent.headers["authorization"] == f"Token {API_KEY}"
    assert sent.headers["content-type"] == "application/json"
    assert httpx.Response(200, content=sent.body).json() == {"text": "Hello there"}
    assert "model=aura-2-orion-en" in sent.query


async def test_synthesize_wav_and_pcm_honour_the_sample_rate(call: Call, server: FakeServer) -> None:
    server.state.options["seconds"] = 0.75
    wav = await provider.synthesize(call, SynthesisRequest(text="Hello", format="wav", sample_rate=16000))
    assert wav_sample_rate(wav.audio) == 16000 and wav.duration == pytest.approx(0.75)
    pcm = await provider.synthesize(call, SynthesisRequest(text="Hello", format="pcm", sample_rate=8000))
    assert pcm.content_type == "audio/pcm"
    assert pcm.duration == pytest.approx(0.75, abs=1e-3)
    mp3 = await provider.synthesize(call, SynthesisRequest(text="Hello", format="mp3"))
    assert mp3.duration == pytest.approx(0.75, abs=0.03)


async def test_billed_characters_come_from_dg_char_count(call: Call, server: FakeServer) -> None:
    server.state.options["char_count"] = 7
    result = await provider.synthesize(call, SynthesisRequest(text="Hello there"))
    assert result.characters == 7


async def test_stream_synthesis_yields_the_vendor_chunks(call: Call) -> None:
    request = SynthesisRequest(text="Hello there, streaming", format="wav")
    chunks = [chunk async for chunk in provider.stream_synthesis(call, request)]
    assert len(chunks) > 1
    whole = await provider.synthesize(call, request)
    assert b"".join(chunks) == whole.audio


async def test_transcribe_reports_the_measured_duration_and_words(call: Call, server: FakeServer) -> None:
    audio = sine_wav(1.5, 16000)
    result = await provider.transcribe(call, TranscriptionRequest(audio=audio, content_type="audio/wav", diarize=True))
    assert result.duration == pytest.approx(1.5)
    assert result.text == "Hello from the fake deepgram."
    assert [w.word for w in result.words] == ["Hello", "from", "the", "fake", "deepgram."]
    assert result.words[-1].end <= 1.5 and {w.speaker for w in result.words} == {0, 1}
    assert result.confidence == pytest.approx(0.97)
    sent = server.state.requests[-1]
    assert sent.body == audio and sent.headers["content-type"] == "audio/wav"
    assert "model=nova-3" in sent.query and "diarize=true" in sent.query
    assert DEFAULT_TRANSCRIPT.split()[0] == "hello"


async def test_transcribe_mp3_and_custom_transcript(call: Call, server: FakeServer) -> None:
    server.state.options["transcript"] = "one two"
    audio = silent_mp3(2.0)
    result = await provider.transcribe(
        call, TranscriptionRequest(audio=audio, content_type="audio/mpeg", punctuate=False)
    )
    assert result.text == "one two"
    assert result.duration == pytest.approx(2.0, abs=0.03)


async def test_transcribe_rejects_data_that_is_not_audio(call: Call) -> None:
    with pytest.raises(ProviderError) as caught:
        await provider.transcribe(call, TranscriptionRequest(audio=b"not audio at all", content_type="audio/wav"))
    assert (caught.value.error_class, caught.value.status) == (ErrorClass.INVALID_INPUT, 400)
    assert "corrupt or unsupported data" in caught.value.message


async def test_probe_and_bad_key(call: Call, server: FakeServer) -> None:
    await provider.probe(call)
    assert server.state.requests[-1].path == "/v1/projects"
    bad = Call(http=call.http, credentials=Credentials(api_key="secret-wrong-key", base_url=server.url), timeout=2)
    with pytest.raises(ProviderError) as caught:
        await provider.probe(bad)
    assert caught.value.error_class is ErrorClass.AUTH
    assert "INVALID_AUTH" in caught.value.message and "secret-wrong-key" not in caught.value.message


@pytest.mark.parametrize(
    ("status", "error_class", "fragment"),
    [
        (400, ErrorClass.INVALID_INPUT, "corrupt or unsupported data"),
        (401, ErrorClass.AUTH, "INVALID_AUTH"),
        (402, ErrorClass.QUOTA, "ASR_PAYMENT_REQUIRED"),
        (403, ErrorClass.AUTH, "INSUFFICIENT_PERMISSIONS"),
        (413, ErrorClass.INVALID_INPUT, "PAYLOAD_TOO_LARGE"),
        (415, ErrorClass.INVALID_INPUT, "UNSUPPORTED_MEDIA_TYPE"),
        (429, ErrorClass.RATE_LIMITED, "TOO_MANY_REQUESTS"),
        (500, ErrorClass.SERVER, "INTERNAL_SERVER_ERROR"),
        (503, ErrorClass.SERVER, "Service Unavailable"),
    ],
)
async def test_documented_error_statuses_map_to_classes(
    call: Call, server: FakeServer, status: int, error_class: ErrorClass, fragment: str
) -> None:
    server.state.fail(Fault("status", status=status), Fault("status", status=status))
    with pytest.raises(ProviderError) as tts:
        await provider.synthesize(call, SynthesisRequest(text="hi"))
    with pytest.raises(ProviderError) as stt:
        await provider.transcribe(call, TranscriptionRequest(audio=sine_wav(0.2), content_type="audio/wav"))
    for caught in (tts, stt):
        assert (caught.value.error_class, caught.value.status, caught.value.retry_after) == (error_class, status, None)
        assert fragment in caught.value.message


async def test_rate_limit_honours_retry_after_when_present(call: Call, server: FakeServer) -> None:
    server.state.fail(Fault("status", status=429, retry_after="2"))
    with pytest.raises(ProviderError) as caught:
        await provider.synthesize(call, SynthesisRequest(text="hi"))
    assert (caught.value.error_class, caught.value.retry_after) == (ErrorClass.RATE_LIMITED, 2.0)


async def test_unknown_model_is_unsupported(call: Call) -> None:
    with pytest.raises(ProviderError) as caught:
        await provider.synthesize(call, SynthesisRequest(text="hi", voice="alloy"))
    assert caught.value.error_class is ErrorClass.UNSUPPORTED


async def test_malformed_bodies(call: Call, server: FakeServer) -> None:
    server.state.fail(Fault("malformed"), Fault("malformed"))
    with pytest.raises(ProviderError) as tts:
        await provider.synthesize(call, SynthesisRequest(text="hi"))
    with pytest.raises(ProviderError) as stt:
        await provider.transcribe(call, TranscriptionRequest(audio=sine_wav(0.2), content_type="audio/wav"))
    assert tts.value.error_class is stt.value.error_class is ErrorClass.MALFORMED


async def test_malformed_stream_is_rejected_before_any_chunk(call: Call, server: FakeServer) -> None:
    server.state.fail(Fault("malformed"))
    caught, chunks = await stream_failure(provider.stream_synthesis(call, SynthesisRequest(text="hi")))
    assert caught.value.error_class is ErrorClass.MALFORMED and chunks == []


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
        await provider.transcribe(call, TranscriptionRequest(audio=sine_wav(0.2), content_type="audio/wav"))
    assert caught.value.error_class is ErrorClass.TIMEOUT


async def test_slow_answer_times_out_before_the_first_byte(call: Call, server: FakeServer) -> None:
    server.state.fail(Fault("slow", delay=0.6))
    call.timeout = 0.3
    caught, _ = await stream_failure(provider.stream_synthesis(call, SynthesisRequest(text="Hello there")))
    assert caught.value.error_class is ErrorClass.TIMEOUT


async def test_stream_stalling_between_chunks_times_out(call: Call, server: FakeServer) -> None:
    server.state.options["chunk_delay"] = 0.6
    call.timeout = 0.3
    caught, received = await stream_failure(
        provider.stream_synthesis(call, SynthesisRequest(text="Hello there", format="wav"))
    )
    assert caught.value.error_class is ErrorClass.TIMEOUT
    assert received and received[0].startswith(b"RIFF")


async def test_costs_are_list_price_times_reported_units(call: Call, server: FakeServer) -> None:
    server.state.options["char_count"] = 1234
    tts = await provider.synthesize(call, SynthesisRequest(text="Hello there"))
    assert provider.synthesis_cost(tts) == AURA2_PER_CHAR * 1234
    aura1 = await provider.synthesize(call, SynthesisRequest(text="Hello there", voice="aura-asteria-en"))
    assert provider.synthesis_cost(aura1) == AURA1_PER_CHAR * 1234
    stt = await provider.transcribe(call, TranscriptionRequest(audio=sine_wav(3.0), content_type="audio/wav"))
    assert provider.transcription_cost(stt) == NOVA3_PER_SECOND * Decimal(str(stt.duration))
    assert stt.duration == pytest.approx(3.0)
