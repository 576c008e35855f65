"""Google Cloud TTS/STT adapter: pure wire-format functions, then the contract against the fake Google on loopback."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import httpx
import pytest

from gateway.errors import ErrorClass, ProviderError
from providers.base import Call, Credentials, SynthesisRequest, TranscriptionRequest, Unit, per_million
from providers.google import (
    GoogleProvider,
    decode_audio_content,
    describe_google_error,
    parse_duration,
    parse_recognition,
    recognition_config,
    synthesis_payload,
    voice_family,
)
from tests.fakes.audio import silent_mp3, sine_pcm, sine_wav, wav
from tests.fakes.google import API_KEY, create_app
from tests.fakes.harness import FakeServer, Fault
from tests.providers.loopback import loopback_fixtures

provider = GoogleProvider()


# -- pure wire format ------------------------------------------------------------------------------------------------
def test_synthesis_payload_maps_format_rate_speed_and_language() -> None:
    request = SynthesisRequest(text="Hello", format="wav", sample_rate=16000, speed=1.25)
    assert synthesis_payload(request, "en-GB-Wavenet-A") == {
        "input": {"text": "Hello"},
        "voice": {"languageCode": "en-GB", "name": "en-GB-Wavenet-A"},  # locale taken from the voice name
        "audioConfig": {"audioEncoding": "LINEAR16", "sampleRateHertz": 16000, "speakingRate": 1.25},
    }
    explicit = synthesis_payload(SynthesisRequest(text="Hi", format="opus", language="de-DE"), "de-DE-Neural2-B")
    assert explicit["voice"]["languageCode"] == "de-DE"
    assert explicit["audioConfig"] == {"audioEncoding": "OGG_OPUS"}
    assert synthesis_payload(SynthesisRequest(text="Hi", format="pcm"), "x")["audioConfig"]["audioEncoding"] == "PCM"
    assert synthesis_payload(SynthesisRequest(text="Hi"), "x")["voice"]["languageCode"] == "en-US"


@pytest.mark.parametrize(
    ("voice", "alias"),
    [
        (None, "en-US-Neural2-F"),
        ("female", "en-US-Neural2-F"),
        ("MALE", "en-US-Neural2-D"),
        ("neutral", "en-US-Neural2-C"),
    ],
)
def test_voice_aliases(voice: str | None, alias: str) -> None:
    assert provider.resolve_voice(voice) == alias


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("en-US-Neural2-F", "Neural2"),
        ("en-US-Wavenet-A", "Wavenet"),
        ("en-US-Standard-B", "Standard"),
        ("en-US-Chirp3-HD-Achernar", "Chirp3-HD"),
        ("en-US-Studio-O", "*"),
    ],
)
def test_voice_family_picks_the_price_row(name: str, family: str) -> None:
    assert voice_family(name) == family


def test_supports_checks_utf8_bytes_speed_and_opus_rates() -> None:
    assert provider.supports_synthesis(SynthesisRequest(text="a" * 5000))
    assert not provider.supports_synthesis(SynthesisRequest(text="é" * 2501))  # 2,501 chars but 5,002 bytes
    assert not provider.supports_synthesis(SynthesisRequest(text="hi", speed=5.0))
    assert not provider.supports_synthesis(SynthesisRequest(text="hi", format="opus", sample_rate=44100))
    assert provider.supports_synthesis(SynthesisRequest(text="hi", format="wav", sample_rate=44100))


def test_decode_audio_content_rejects_bad_base64() -> None:
    assert decode_audio_content("google", {"audioContent": base64.b64encode(b"abc").decode()}) == b"abc"
    for body in ({"audioContent": "%%%"}, {}, ["x"]):
        with pytest.raises(ProviderError) as caught:
            decode_audio_content("google", body)
        assert caught.value.error_class is ErrorClass.MALFORMED


def test_recognition_config_per_container() -> None:
    def config(audio: bytes, content_type: str) -> dict[str, object]:
        return recognition_config(TranscriptionRequest(audio=audio, content_type=content_type), "latest_long")

    assert config(sine_wav(0.1, 8000), "audio/wav") == {
        "encoding": "LINEAR16", "sampleRateHertz": 8000, "languageCode": "en-US",
        "enableAutomaticPunctuation": True, "enableWordTimeOffsets": True, "model": "latest_long",
    }  # fmt: skip
    assert config(wav(sine_pcm(0.1) * 2, channels=2), "audio/x-wav")["audioChannelCount"] == 2
    assert config(b"fLaC" + bytes(40), "audio/flac")["encoding"] == "FLAC"
    assert config(silent_mp3(0.1), "application/octet-stream")["encoding"] == "MP3"  # sniffed
    opus_head = b"OggS" + bytes(24) + b"OpusHead" + bytes([1, 1, 0, 0]) + (16000).to_bytes(4, "little")
    assert config(opus_head, "audio/ogg")["sampleRateHertz"] == 16000
    assert config(b"OggS" + bytes(60), "audio/ogg")["sampleRateHertz"] == 48000  # no OpusHead: Opus decodes at 48k
    assert config(b"\x1aE\xdf\xa3" + bytes(8), "audio/webm")["encoding"] == "WEBM_OPUS"
    with pytest.raises(ProviderError) as caught:
        config(b"not audio at all", "application/octet-stream")
    assert caught.value.error_class is ErrorClass.UNSUPPORTED


def test_parse_recognition_joins_results_and_reads_durations() -> None:
    body = {
        "results": [
            {"alternatives": [{"transcript": "how old is", "confidence": 0.9,
                               "words": [{"startTime": "0s", "endTime": "0.300s", "word": "how"}]}],
             "resultEndTime": "1.100s", "languageCode": "en-us"},
            {"alternatives": [{"transcript": " the bridge", "confidence": 0.7}], "resultEndTime": "1.950s"},
        ],
        "totalBilledTime": "2s",
    }  # fmt: skip
    result = parse_recognition(body, TranscriptionRequest(audio=b"", content_type="audio/wav", duration=1.9), "m")
    assert result.text == "how old is the bridge"
    assert [(w.word, w.start, w.end) for w in result.words] == [("how", 0.0, 0.3)]
    assert result.confidence == pytest.approx(0.8)
    assert (result.duration, result.language, result.model) == (2.0, "en-us", "m")
    # No totalBilledTime: the gateway's measurement; nothing at all: where the last result ended.
    del body["totalBilledTime"]
    assert parse_recognition(body, TranscriptionRequest(b"", "audio/wav", duration=1.9), "m").duration == 1.9
    assert parse_recognition(body, TranscriptionRequest(b"", "audio/wav"), "m").duration == 1.95
    empty = parse_recognition({}, TranscriptionRequest(b"", "audio/wav", duration=0.5), "m")
    assert (empty.text, empty.words, empty.confidence, empty.duration) == ("", [], None, 0.5)
    for broken in ([], {"results": "x"}, {"results": [{"alternatives": [{"words": [1]}]}]}):
        with pytest.raises(ProviderError) as caught:
            parse_recognition(broken, TranscriptionRequest(b"", "audio/wav"), "m")
        assert caught.value.error_class is ErrorClass.MALFORMED


def test_parse_duration() -> None:
    assert (parse_duration("1.300s"), parse_duration("2s"), parse_duration("x"), parse_duration(3)) == (
        1.3, 2.0, None, None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("status", "rpc", "details", "expected"),
    [
        (429, "RESOURCE_EXHAUSTED", [], ErrorClass.RATE_LIMITED),
        (403, "PERMISSION_DENIED", [], ErrorClass.AUTH),
        (401, "UNAUTHENTICATED", [], ErrorClass.AUTH),
        (400, "INVALID_ARGUMENT", [{"reason": "API_KEY_INVALID"}], ErrorClass.AUTH),
        (400, "INVALID_ARGUMENT", [], None),
        (504, "DEADLINE_EXCEEDED", [], ErrorClass.TIMEOUT),
    ],
)
def test_describe_google_error(status: int, rpc: str, details: list[object], expected: ErrorClass | None) -> None:
    body = {"error": {"code": status, "message": "boom", "status": rpc, "details": details}}
    assert describe_google_error(status, body, json.dumps(body)) == (f"{rpc}: boom", expected)
    assert describe_google_error(502, None, "<html>bad gateway</html>") == ("<html>bad gateway</html>", None)


def test_credentials_from_env_carries_both_hosts() -> None:
    assert GoogleProvider.credentials_from_env({}) is None
    defaults = GoogleProvider.credentials_from_env({"GOOGLE_API_KEY": "k"})
    assert defaults is not None
    assert (defaults.base_url, defaults.extra["stt_base_url"]) == (
        "https://texttospeech.googleapis.com", "https://speech.googleapis.com",
    )  # fmt: skip
    custom = GoogleProvider.credentials_from_env(
        {"GOOGLE_API_KEY": "k", "GOOGLE_TTS_BASE_URL": "http://tts/", "GOOGLE_STT_BASE_URL": "http://stt/"}
    )
    assert custom is not None and (custom.base_url, custom.extra["stt_base_url"]) == ("http://tts", "http://stt")


# -- contract against the fake ---------------------------------------------------------------------------------------
server, state, http = loopback_fixtures(create_app)


def make_call(http: httpx.AsyncClient, server: FakeServer, key: str | None = API_KEY, timeout: float = 2) -> Call:
    credentials = Credentials(api_key=key, base_url=server.url, extra={"stt_base_url": server.url})
    return Call(http=http, credentials=credentials, timeout=timeout)


async def test_synthesize_wav_sends_documented_request(http, server, state) -> None:
    request = SynthesisRequest(text="Hello there", voice="male", format="wav", sample_rate=16000, speed=1.0)
    result = await provider.synthesize(make_call(http, server), request)
    sent = state.requests[0]
    assert (sent.method, sent.path, sent.headers["x-goog-api-key"]) == ("POST", "/v1/text:synthesize", API_KEY)
    assert json.loads(sent.body)["voice"] == {"languageCode": "en-US", "name": "en-US-Neural2-D"}
    assert result.audio[:4] == b"RIFF" and result.content_type == "audio/wav"
    assert (result.model, result.characters) == ("Neural2", len("Hello there"))
    assert result.duration == pytest.approx(len("Hello there") * 0.06, abs=0.01)


@pytest.mark.parametrize(("fmt", "magic"), [("mp3", b"\xff\xfb"), ("pcm", None), ("opus", b"OggS")])
async def test_synthesize_other_formats(http, server, state, fmt: str, magic: bytes | None) -> None:
    result = await provider.synthesize(
        make_call(http, server), SynthesisRequest(text="Hi", format=fmt, sample_rate=24000)
    )
    assert result.audio and (magic is None or result.audio.startswith(magic))
    assert result.audio[:4] != b"RIFF"
    if fmt == "pcm":  # raw 16-bit mono at the rate we asked for
        assert result.duration == pytest.approx(len(result.audio) / 48000)


async def test_transcribe_wav(http, server, state) -> None:
    audio = sine_wav(1.5, 8000)
    result = await provider.transcribe(
        make_call(http, server), TranscriptionRequest(audio=audio, content_type="audio/wav", language="en-GB")
    )
    config = json.loads(state.requests[0].body)["config"]
    assert state.requests[0].path == "/v1/speech:recognize"
    assert (config["encoding"], config["sampleRateHertz"], config["languageCode"]) == ("LINEAR16", 8000, "en-GB")
    assert result.text == "how old is the Brooklyn Bridge"
    assert len(result.words) == 6 and result.words[-1].end == pytest.approx(1.5)
    assert result.duration == 2.0  # totalBilledTime, rounded up by the vendor
    assert (result.confidence, result.language, result.model) == (0.92, "en-gb", "latest_long")


async def test_transcribe_without_billed_time_uses_gateway_measurement(http, server, state) -> None:
    state.options.update(billed_time=None, transcript="hello")
    request = TranscriptionRequest(audio=silent_mp3(0.5), content_type="audio/mpeg", duration=0.52)
    result = await provider.transcribe(make_call(http, server), request)
    assert json.loads(state.requests[0].body)["config"]["encoding"] == "MP3"
    assert (result.text, result.duration) == ("hello", 0.52)


async def test_transcribe_over_a_minute_is_refused_before_calling(http, server, state) -> None:
    request = TranscriptionRequest(audio=sine_wav(0.1), content_type="audio/wav", duration=61.0)
    with pytest.raises(ProviderError) as caught:
        await provider.transcribe(make_call(http, server), request)
    assert caught.value.error_class is ErrorClass.UNSUPPORTED and state.requests == []


async def test_probe_lists_voices(http, server, state) -> None:
    await provider.probe(make_call(http, server))
    assert (state.requests[0].path, state.requests[0].query) == ("/v1/voices", "languageCode=en-US")


@pytest.mark.parametrize(("key", "status"), [(None, 403), ("wrong-key", 400)])
async def test_bad_key_is_auth(http, server, state, key: str | None, status: int) -> None:
    with pytest.raises(ProviderError) as caught:
        await provider.synthesize(make_call(http, server, key=key), SynthesisRequest(text="Hi"))
    assert (caught.value.error_class, caught.value.status) == (ErrorClass.AUTH, status)
    assert "wrong-key" not in caught.value.message


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, ErrorClass.INVALID_INPUT),
        (401, ErrorClass.AUTH),
        (403, ErrorClass.AUTH),
        (404, ErrorClass.UNSUPPORTED),
        (500, ErrorClass.SERVER),
        (503, ErrorClass.SERVER),
        (504, ErrorClass.TIMEOUT),
    ],
)
async def test_error_statuses(http, server, state, status: int, expected: ErrorClass) -> None:
    state.fail(Fault("status", status=status))
    with pytest.raises(ProviderError) as caught:
        await provider.synthesize(make_call(http, server), SynthesisRequest(text="Hi"))
    assert (caught.value.error_class, caught.value.status, caught.value.retry_after) == (expected, status, None)


async def test_429_retry_delay_from_body_or_header(http, server, state) -> None:
    state.options["retry_delay"] = "7s"
    state.fail(Fault("status", status=429), Fault("status", status=429, retry_after="3"))
    call = make_call(http, server)
    for expected in (7.0, 3.0):  # RetryInfo alone; a Retry-After header wins over the body
        with pytest.raises(ProviderError) as caught:
            await provider.transcribe(call, TranscriptionRequest(audio=sine_wav(0.2), content_type="audio/wav"))
        assert (caught.value.error_class, caught.value.retry_after) == (ErrorClass.RATE_LIMITED, expected)
        assert "RESOURCE_EXHAUSTED" in caught.value.message


async def test_malformed_bodies(http, server, state) -> None:
    state.fail(Fault("malformed"), Fault("malformed"), Fault("malformed"))
    call = make_call(http, server)
    for operation in (
        provider.synthesize(call, SynthesisRequest(text="Hi")),
        provider.transcribe(call, TranscriptionRequest(audio=sine_wav(0.2), content_type="audio/wav")),
        provider.probe(call),
    ):
        with pytest.raises(ProviderError) as caught:
            await operation
        assert caught.value.error_class is ErrorClass.MALFORMED


async def test_cut_body_is_connection_error(http, server, state) -> None:
    state.fail(Fault("cut", after_chunks=2), Fault("cut", after_chunks=1))
    call = make_call(http, server)
    with pytest.raises(ProviderError) as caught:
        await provider.synthesize(call, SynthesisRequest(text="Hello world"))
    assert caught.value.error_class is ErrorClass.CONNECTION
    with pytest.raises(ProviderError) as caught:
        await provider.transcribe(call, TranscriptionRequest(audio=sine_wav(0.2), content_type="audio/wav"))
    assert caught.value.error_class is ErrorClass.CONNECTION


async def test_hang_is_timeout(http, server, state) -> None:
    state.fail(Fault("hang"))
    with pytest.raises(ProviderError) as caught:
        await provider.synthesize(make_call(http, server, timeout=0.2), SynthesisRequest(text="Hi"))
    assert caught.value.error_class is ErrorClass.TIMEOUT


async def test_costs_are_list_price_times_reported_units(http, server, state) -> None:
    call = make_call(http, server)
    text = "The quick brown fox"
    for voice, per_1m in (("en-US-Chirp3-HD-Achernar", "30"), ("female", "16"), ("en-US-Wavenet-A", "4")):
        request = SynthesisRequest(text=text, voice=voice)
        result = await provider.synthesize(call, request)
        assert provider.synthesis_cost(result) == per_million(per_1m) * len(text)
        assert provider.estimate_synthesis_cost(request) == per_million(per_1m) * len(text)
    state.options["duration"] = 30.2
    result = await provider.transcribe(call, TranscriptionRequest(audio=sine_wav(0.2), content_type="audio/wav"))
    assert result.duration == 31.0
    assert provider.transcription_cost(result) == Decimal("0.016") / 60 * 31
    assert provider.prices.for_model("phone_call")[Unit.AUDIO_SECOND] == Decimal("0.016") / 60
