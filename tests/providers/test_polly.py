"""Amazon Polly adapter: pure wire-format functions, then the contract against the fake Polly on loopback (which
verifies each request's SigV4 signature with the test secret)."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest

from gateway.audio import measure_duration, pcm_from_wav, sniff_format
from gateway.errors import ErrorClass, ProviderError
from providers.base import Call, Credentials, SynthesisRequest, Unit
from providers.polly import (
    EXTRA_REGION,
    EXTRA_SECRET,
    EXTRA_SESSION_TOKEN,
    PollyProvider,
    aws_credentials,
    describe_error,
    language_code,
    region_for,
    signed_request,
    speech_body,
)
from tests.fakes.audio import silent_mp3
from tests.fakes.harness import FakeServer, FakeState, Fault, free_port
from tests.fakes.polly import ACCESS_KEY, SECRET_KEY, create_app
from tests.providers.loopback import loopback_fixtures
from tests.providers.stream_failure import stream_failure

provider = PollyProvider()


def body_for(**kwargs: object) -> dict[str, object]:
    request = SynthesisRequest(**{"text": "Hello there", **kwargs})  # type: ignore[arg-type]
    engine = request.model if request.model in ("standard", "neural", "long-form", "generative") else "neural"
    return speech_body(request, engine)


# -- pure wire format ------------------------------------------------------------------------------------------
def test_default_speech_body() -> None:
    assert body_for() == {
        "Engine": "neural",
        "OutputFormat": "mp3",
        "Text": "Hello there",
        "TextType": "text",
        "VoiceId": "Joanna",
    }


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"format": "mp3", "sample_rate": 22050}, {"OutputFormat": "mp3", "SampleRate": "22050"}),
        ({"format": "pcm"}, {"OutputFormat": "pcm", "SampleRate": "16000"}),
        ({"format": "wav", "sample_rate": 8000}, {"OutputFormat": "pcm", "SampleRate": "8000"}),
        ({"voice": "male"}, {"VoiceId": "Matthew"}),
        ({"voice": "Neutral"}, {"VoiceId": "Joanna"}),
        ({"voice": "Ruth", "model": "long-form"}, {"VoiceId": "Ruth", "Engine": "long-form"}),
        ({"model": "tts-1"}, {"Engine": "neural"}),  # another vendor's model is ignored
        ({"language": "de-DE", "voice": "male"}, {"VoiceId": "Daniel", "LanguageCode": "de-DE"}),
        ({"language": "es"}, {"VoiceId": "Lucia", "LanguageCode": "es-ES"}),
        ({"language": "en_gb"}, {"VoiceId": "Amy", "LanguageCode": "en-GB"}),
        ({"language": "en-AU"}, {"VoiceId": "Joanna", "LanguageCode": "en-US"}),  # the voice's own locale
        ({"voice": "Aditi", "language": "hi-in"}, {"VoiceId": "Aditi", "LanguageCode": "hi-IN"}),  # bilingual voice
        ({}, {"LanguageCode": None}),
    ],
)
def test_speech_body_maps_format_rate_voice_engine_language(kwargs: dict, expected: dict) -> None:
    body = body_for(**kwargs)
    assert {key: body.get(key) for key in expected} == expected


def test_speed_becomes_escaped_ssml_prosody() -> None:
    body = body_for(text="Tom & <Jerry>", speed=1.25)
    assert body["TextType"] == "ssml"
    assert body["Text"] == '<speak><prosody rate="125%">Tom &amp; &lt;Jerry&gt;</prosody></speak>'
    assert body_for(speed=9.0)["Text"].startswith('<speak><prosody rate="200%">')
    assert body_for(speed=1.0)["TextType"] == "text"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"format": "opus"},  # Polly's ogg_vorbis is Vorbis, not Opus
        {"format": "pcm", "sample_rate": 24000},
        {"format": "mp3", "sample_rate": 44100},
        {"language": "hi"},  # no voice configured for an alias in this language
    ],
)
def test_requests_polly_cannot_serve_are_unsupported(kwargs: dict) -> None:
    with pytest.raises(ProviderError) as caught:
        body_for(**kwargs)
    assert caught.value.error_class is ErrorClass.UNSUPPORTED
    assert not provider.supports_synthesis(SynthesisRequest(text="hi", **kwargs))


def test_supports_synthesis() -> None:
    assert provider.supports_synthesis(SynthesisRequest(text="x" * 3000, format="wav", sample_rate=16000))
    assert not provider.supports_synthesis(SynthesisRequest(text="x" * 3001))
    assert provider.supports_synthesis(SynthesisRequest(text="hi", voice="Aditi", language="hi-IN"))
    assert language_code("pt") == "pt-BR" and language_code("hi-in") == "hi-IN" and language_code("xx") is None


@pytest.mark.parametrize(
    ("status", "headers", "body", "expected", "message"),
    [
        (
            400,
            {"x-amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/coral/"},
            {"message": "Rate exceeded"},
            ErrorClass.RATE_LIMITED,
            "ThrottlingException: Rate exceeded",
        ),
        (
            400,
            {},
            {"__type": "com.amazonaws.polly#TextLengthExceededException", "message": "too long"},
            ErrorClass.INVALID_INPUT,
            "TextLengthExceededException: too long",
        ),
        (
            403,
            {"x-amzn-ErrorType": "AccessDeniedException"},
            {"Message": "no"},
            ErrorClass.AUTH,
            "AccessDeniedException: no",
        ),
        (404, {"x-amzn-ErrorType": "LexiconNotFoundException"}, {}, ErrorClass.UNSUPPORTED, "LexiconNotFoundException"),
        (503, {}, None, None, "<html>Service Unavailable</html>"),  # unknown type: the status decides
    ],
)
def test_describe_error_reads_the_type_from_header_or_body(status, headers, body, expected, message) -> None:
    text = json.dumps(body) if body is not None else "<html>Service Unavailable</html>"
    assert describe_error(httpx.Headers(headers))(status, body, text) == (message, expected)


def test_credentials_from_env() -> None:
    assert PollyProvider.credentials_from_env({"AWS_ACCESS_KEY_ID": "AKID"}) is None
    creds = PollyProvider.credentials_from_env({"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s3cr3t"})
    assert creds is not None
    assert creds.api_key == "AKID" and creds.base_url == "https://polly.us-east-1.amazonaws.com"
    assert dict(creds.extra) == {EXTRA_SECRET: "s3cr3t", EXTRA_REGION: "us-east-1"}
    env = {
        "AWS_ACCESS_KEY_ID": "AKID",
        "AWS_SECRET_ACCESS_KEY": "s3cr3t",
        "AWS_REGION": "eu-west-1",
        "AWS_SESSION_TOKEN": "tok",
    }
    creds = PollyProvider.credentials_from_env(env)
    assert creds is not None and creds.base_url == "https://polly.eu-west-1.amazonaws.com"
    assert creds.extra[EXTRA_SESSION_TOKEN] == "tok" and creds.extra[EXTRA_REGION] == "eu-west-1"
    creds = PollyProvider.credentials_from_env({**env, "POLLY_BASE_URL": "http://127.0.0.1:9/"})
    assert creds is not None and creds.base_url == "http://127.0.0.1:9"


def test_stored_key_with_secret_and_region_from_url() -> None:
    merged = Credentials("AKSTORED:storedsecret", "https://polly.ap-south-1.amazonaws.com", {EXTRA_SESSION_TOKEN: "x"})
    assert aws_credentials(merged) == ("AKSTORED", "storedsecret", None)
    assert region_for(merged) == "ap-south-1"
    assert region_for(Credentials("k", "http://127.0.0.1:1")) == "us-east-1"


# -- contract against the fake ----------------------------------------------------------------------------------


def credentials(server: FakeServer, **extra: str) -> Credentials:
    return Credentials(
        api_key=ACCESS_KEY, base_url=server.url, extra={EXTRA_SECRET: SECRET_KEY, EXTRA_REGION: "us-west-2", **extra}
    )


server, state, http = loopback_fixtures(create_app)


@pytest.fixture(autouse=True)
def fresh_state(state: FakeState) -> None:
    """Every test starts from a reset fake (the ``state`` fixture resets it)."""


@pytest.fixture
def call(http: httpx.AsyncClient, server: FakeServer) -> Call:
    return Call(http=http, credentials=credentials(server), timeout=2)


async def test_synthesize_mp3_signed_and_measured(call: Call, server: FakeServer) -> None:
    server.state.options["seconds"] = 1.2
    result = await provider.synthesize(call, SynthesisRequest(text="Hello from Polly", voice="male"))
    assert sniff_format(result.audio) == "mp3"
    assert result.content_type == "audio/mpeg" and result.model == "neural"
    assert result.characters == len("Hello from Polly")
    assert result.duration == pytest.approx(1.2, abs=0.03)  # the fake's audio length, to an MP3 frame
    (sent,) = server.state.requests
    assert (sent.method, sent.path) == ("POST", "/v1/speech")
    assert sent.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=test-polly-key/")
    assert "/us-west-2/polly/aws4_request, SignedHeaders=content-type;host;x-amz-date," in sent.headers["authorization"]
    assert sent.headers["x-amz-date"].endswith("Z")
    assert json.loads(sent.body) == {
        "Engine": "neural",
        "OutputFormat": "mp3",
        "Text": "Hello from Polly",
        "TextType": "text",
        "VoiceId": "Matthew",
    }


async def test_billed_characters_come_from_the_header(call: Call, server: FakeServer) -> None:
    server.state.options["request_characters"] = 7
    result = await provider.synthesize(call, SynthesisRequest(text="Hello from Polly"))
    assert result.characters == 7


async def test_ssml_tags_are_not_billed(call: Call) -> None:
    result = await provider.synthesize(call, SynthesisRequest(text="A & B", speed=0.8))
    assert result.characters == len("A & B")


async def test_wav_is_polly_pcm_in_a_wav_header(call: Call, server: FakeServer) -> None:
    server.state.options["seconds"] = 0.5
    result = await provider.synthesize(call, SynthesisRequest(text="hi", format="wav", sample_rate=8000))
    pcm, rate, channels = pcm_from_wav(result.audio)
    assert (rate, channels, result.content_type) == (8000, 1, "audio/wav")
    assert len(pcm) == 8000  # 0.5 s of 16-bit mono at 8 kHz
    assert result.duration == pytest.approx(0.5)
    assert json.loads(server.state.requests[0].body)["SampleRate"] == "8000"


async def test_pcm_duration_from_the_requested_rate(call: Call, server: FakeServer) -> None:
    server.state.options["seconds"] = 1.25
    result = await provider.synthesize(call, SynthesisRequest(text="hi", format="pcm"))
    assert result.content_type == "audio/pcm" and sniff_format(result.audio) is None
    assert result.duration == pytest.approx(1.25)


async def test_session_token_is_sent_and_signed(server: FakeServer) -> None:
    async with httpx.AsyncClient() as http:
        call = Call(http=http, credentials=credentials(server, **{EXTRA_SESSION_TOKEN: "session-tok"}), timeout=2)
        await provider.synthesize(call, SynthesisRequest(text="hi"))
    sent = server.state.requests[0]
    assert sent.headers["x-amz-security-token"] == "session-tok"
    assert "x-amz-security-token" in sent.headers["authorization"]


async def test_stored_key_carrying_its_secret_works(server: FakeServer) -> None:
    async with httpx.AsyncClient() as http:
        creds = Credentials(api_key=f"{ACCESS_KEY}:{SECRET_KEY}", base_url=server.url)
        await provider.probe(Call(http=http, credentials=creds, timeout=2))
    assert "/us-east-1/polly/" in server.state.requests[0].headers["authorization"]


@pytest.mark.parametrize(
    ("api_key", "secret", "message"),
    [
        (ACCESS_KEY, "wrong-secret", "InvalidSignatureException"),
        ("AKIAUNKNOWN", SECRET_KEY, "UnrecognizedClientException"),
    ],
)
async def test_bad_credentials_are_auth_errors(server: FakeServer, api_key: str, secret: str, message: str) -> None:
    async with httpx.AsyncClient() as http:
        creds = Credentials(api_key=api_key, base_url=server.url, extra={EXTRA_SECRET: secret})
        with pytest.raises(ProviderError) as caught:
            await provider.synthesize(Call(http=http, credentials=creds, timeout=2), SynthesisRequest(text="hi"))
    assert (caught.value.error_class, caught.value.status) == (ErrorClass.AUTH, 403)
    assert caught.value.message.startswith(message)
    assert secret not in caught.value.message


async def test_missing_secret_fails_before_calling(server: FakeServer) -> None:
    async with httpx.AsyncClient() as http:
        call = Call(http=http, credentials=Credentials(api_key=ACCESS_KEY, base_url=server.url), timeout=2)
        with pytest.raises(ProviderError) as caught:
            await provider.synthesize(call, SynthesisRequest(text="hi"))
    assert caught.value.error_class is ErrorClass.AUTH
    assert server.state.requests == []


async def test_fake_verifies_the_signature_covers_the_body(call: Call, server: FakeServer) -> None:
    body = json.dumps({"Text": "hi", "OutputFormat": "mp3", "VoiceId": "Joanna"}).encode()
    signed = signed_request(call, "POST", "/v1/speech", body=body)
    assert (await call.http.post(signed["url"], headers=signed["headers"], content=body)).status_code == 200
    response = await call.http.post(signed["url"], headers=signed["headers"], content=body.replace(b"hi", b"yo"))
    assert response.status_code == 403
    assert response.headers["x-amzn-errortype"].startswith("InvalidSignatureException")


async def test_unsigned_request_is_rejected_by_the_fake(server: FakeServer) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(server.url + "/v1/speech", json={"Text": "hi"})
    assert response.status_code == 403
    assert response.headers["x-amzn-errortype"].startswith("UnrecognizedClientException")


async def test_vendor_validation_reaches_us_classified(call: Call) -> None:
    with pytest.raises(ProviderError) as caught:
        await provider.synthesize(call, SynthesisRequest(text="x" * 3001))
    assert (caught.value.error_class, caught.value.status) == (ErrorClass.INVALID_INPUT, 400)
    assert caught.value.message.startswith("TextLengthExceededException")
    with pytest.raises(ProviderError) as caught:
        await provider.synthesize(call, SynthesisRequest(text="hi", voice="Kazuha", model="standard"))
    assert caught.value.error_class is ErrorClass.UNSUPPORTED  # EngineNotSupportedException


@pytest.mark.parametrize(
    ("status", "kind", "expected"),
    [
        (400, "ThrottlingException", ErrorClass.RATE_LIMITED),
        (429, "ThrottlingException", ErrorClass.RATE_LIMITED),
        (500, "ServiceFailureException", ErrorClass.SERVER),
        (503, "ServiceUnavailable", ErrorClass.SERVER),
        (400, "TextLengthExceededException", ErrorClass.INVALID_INPUT),
        (400, "InvalidSsmlException", ErrorClass.INVALID_INPUT),
        (400, "InvalidSampleRateException", ErrorClass.UNSUPPORTED),
        (403, "UnrecognizedClientException", ErrorClass.AUTH),
        (403, "InvalidSignatureException", ErrorClass.AUTH),
        (403, "AccessDeniedException", ErrorClass.AUTH),
        (404, "LexiconNotFoundException", ErrorClass.UNSUPPORTED),
    ],
)
async def test_error_types_map_to_classes(
    call: Call, server: FakeServer, status: int, kind: str, expected: ErrorClass
) -> None:
    server.state.fail(Fault("status", status=status, body=kind))
    with pytest.raises(ProviderError) as caught:
        await provider.synthesize(call, SynthesisRequest(text="hi"))
    assert (caught.value.error_class, caught.value.status, caught.value.retry_after) == (expected, status, None)
    assert caught.value.message.startswith(kind + ":")


async def test_stream_errors_are_classified_by_the_header_type(call: Call, server: FakeServer) -> None:
    server.state.fail(Fault("status", status=400, body="ThrottlingException"))  # a throttle that arrives as 400
    caught, chunks = await stream_failure(provider.stream_synthesis(call, SynthesisRequest(text="hi")))
    assert (caught.value.error_class, caught.value.status, chunks) == (ErrorClass.RATE_LIMITED, 400, [])


@pytest.mark.parametrize(("retry_after", "expected"), [("3", 3.0), (None, None)])
async def test_retry_after_only_when_sent(call: Call, server: FakeServer, retry_after, expected) -> None:
    server.state.fail(Fault("status", status=429, retry_after=retry_after))
    with pytest.raises(ProviderError) as caught:
        await provider.synthesize(call, SynthesisRequest(text="hi"))
    assert caught.value.error_class is ErrorClass.RATE_LIMITED
    assert caught.value.retry_after == expected


async def test_malformed_2xx_is_malformed(call: Call, server: FakeServer) -> None:
    server.state.fail(Fault("malformed"), Fault("malformed"), Fault("malformed"))
    for operation in (
        provider.synthesize(call, SynthesisRequest(text="hi")),
        provider.probe(call),
    ):
        with pytest.raises(ProviderError) as caught:
            await operation
        assert caught.value.error_class is ErrorClass.MALFORMED
    caught, _ = await stream_failure(provider.stream_synthesis(call, SynthesisRequest(text="hi")))
    assert caught.value.error_class is ErrorClass.MALFORMED


async def test_wrong_audio_type_is_malformed(call: Call, server: FakeServer) -> None:
    server.state.options["content_type"] = "application/x-json-stream"  # speech marks, not audio
    with pytest.raises(ProviderError) as caught:
        await provider.synthesize(call, SynthesisRequest(text="hi"))
    assert caught.value.error_class is ErrorClass.MALFORMED


async def test_stream_yields_vendor_chunks(call: Call, server: FakeServer) -> None:
    server.state.options["seconds"] = 1.0
    chunks = [chunk async for chunk in provider.stream_synthesis(call, SynthesisRequest(text="hi"))]
    assert len(chunks) >= 2
    audio = b"".join(chunks)
    assert audio == silent_mp3(1.0)
    assert measure_duration(audio) == pytest.approx(1.0, abs=0.03)


async def test_streamed_wav_starts_with_a_streaming_header(call: Call, server: FakeServer) -> None:
    server.state.options["seconds"] = 0.75
    request = SynthesisRequest(text="hi", format="wav")
    chunks = [chunk async for chunk in provider.stream_synthesis(call, request)]
    assert len(chunks[0]) == 44 and chunks[0][40:44] == b"\xff\xff\xff\xff"
    audio = b"".join(chunks)
    assert sniff_format(audio) == "wav"
    assert measure_duration(audio) == pytest.approx(0.75)
    assert pcm_from_wav(audio)[1:] == (16000, 1)


@pytest.mark.parametrize("streaming", [False, True])
async def test_cut_mid_body_is_a_connection_error(call: Call, server: FakeServer, streaming: bool) -> None:
    server.state.options["seconds"] = 2.0
    server.state.fail(Fault("cut", after_chunks=1))
    received = []
    with pytest.raises(ProviderError) as caught:
        if streaming:
            async for chunk in provider.stream_synthesis(call, SynthesisRequest(text="hi")):
                received.append(chunk)
        else:
            await provider.synthesize(call, SynthesisRequest(text="hi"))
    assert caught.value.error_class is ErrorClass.CONNECTION
    assert not streaming or received  # the first chunk arrived before the cut


async def test_hang_is_a_timeout(server: FakeServer) -> None:
    server.state.fail(Fault("hang"))
    async with httpx.AsyncClient() as http:
        call = Call(http=http, credentials=credentials(server), timeout=0.3)
        with pytest.raises(ProviderError) as caught:
            await provider.synthesize(call, SynthesisRequest(text="hi"))
    assert caught.value.error_class is ErrorClass.TIMEOUT


async def test_stall_between_chunks_is_a_timeout(server: FakeServer) -> None:
    server.state.options["chunk_delay"] = 1.0
    async with httpx.AsyncClient() as http:
        call = Call(http=http, credentials=credentials(server), timeout=0.3)
        caught, _ = await stream_failure(provider.stream_synthesis(call, SynthesisRequest(text="hi")))
    assert caught.value.error_class is ErrorClass.TIMEOUT


async def test_down_vendor_is_a_connection_error() -> None:
    async with httpx.AsyncClient() as http:
        creds = Credentials(ACCESS_KEY, f"http://127.0.0.1:{free_port()}", {EXTRA_SECRET: SECRET_KEY})
        with pytest.raises(ProviderError) as caught:
            await provider.synthesize(Call(http=http, credentials=creds, timeout=1), SynthesisRequest(text="hi"))
    assert caught.value.error_class is ErrorClass.CONNECTION


async def test_probe_lists_voices_signed_with_a_query(call: Call, server: FakeServer) -> None:
    await provider.probe(call)
    (sent,) = server.state.requests
    assert (sent.method, sent.path, sent.query) == ("GET", "/v1/voices", "Engine=neural&LanguageCode=en-US")
    assert "SignedHeaders=host;x-amz-date," in sent.headers["authorization"]
    server.state.fail(Fault("status", status=403, body="AccessDeniedException"))
    with pytest.raises(ProviderError) as caught:
        await provider.probe(call)
    assert caught.value.error_class is ErrorClass.AUTH


@pytest.mark.parametrize(("engine", "per_million"), [("neural", "16"), ("standard", "4"), ("generative", "30")])
async def test_cost_is_list_price_times_billed_characters(
    call: Call, server: FakeServer, engine: str, per_million: str
) -> None:
    server.state.options["request_characters"] = 1234
    result = await provider.synthesize(call, SynthesisRequest(text="Hello", model=engine))
    assert result.model == engine and result.characters == 1234
    assert provider.synthesis_cost(result) == Decimal(per_million) / 1_000_000 * 1234
    assert provider.prices.cost("long-form", {Unit.CHARACTER: 1_000_000}) == Decimal(100)
