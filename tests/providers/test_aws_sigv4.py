"""SigV4 against AWS's published IAM ListUsers example, plus the canonicalization rules it depends on."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta, timezone

from providers.aws_sigv4 import canonical_query, canonical_request, host_header, sign, signing_key, string_to_sign

# AWS's documented example (General Reference, "Signature Version 4 signing process" walkthrough for IAM ListUsers).
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
ACCESS_KEY = "AKIDEXAMPLE"
IAM_URL = "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08"
IAM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
IAM_DATE = datetime(2015, 8, 30, 12, 36, 0, tzinfo=UTC)
EXPECTED_SIGNATURE = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"


def iam_signed(**overrides: object) -> dict[str, str]:
    args: dict = {
        "method": "GET",
        "url": IAM_URL,
        "headers": IAM_HEADERS,
        "body": b"",
        "access_key": ACCESS_KEY,
        "secret_key": SECRET,
        "region": "us-east-1",
        "service": "iam",
        "amz_date": IAM_DATE,
    }
    args.update(overrides)
    method, url, headers, body = args.pop("method"), args.pop("url"), args.pop("headers"), args.pop("body")
    return sign(method, url, headers, body, **args)


def signature_of(headers: dict[str, str]) -> str:
    match = re.search(r"Signature=([0-9a-f]{64})$", headers["Authorization"])
    assert match, headers["Authorization"]
    return match.group(1)


def test_signing_key_matches_the_published_vector() -> None:
    key = signing_key(SECRET, "20150830", "us-east-1", "iam")
    assert key.hex() == "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"


def test_canonical_request_hash_matches_the_published_vector() -> None:
    headers = {**IAM_HEADERS, "Host": "iam.amazonaws.com", "X-Amz-Date": "20150830T123600Z"}
    canonical, signed = canonical_request("GET", IAM_URL, headers, b"")
    assert signed == "content-type;host;x-amz-date"
    assert canonical.splitlines()[:3] == ["GET", "/", "Action=ListUsers&Version=2010-05-08"]
    assert hashlib.sha256(canonical.encode()).hexdigest() == (
        "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
    )
    sts = string_to_sign("20150830T123600Z", "20150830/us-east-1/iam/aws4_request", canonical)
    assert sts.endswith("f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59")


def test_sign_produces_the_published_signature_and_header() -> None:
    headers = iam_signed()
    assert signature_of(headers) == EXPECTED_SIGNATURE
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
        f"SignedHeaders=content-type;host;x-amz-date, Signature={EXPECTED_SIGNATURE}"
    )
    assert headers["X-Amz-Date"] == "20150830T123600Z"
    assert headers["Host"] == "iam.amazonaws.com"
    assert headers["Content-Type"] == IAM_HEADERS["Content-Type"]


def test_naive_and_offset_datetimes_are_taken_as_utc() -> None:
    assert signature_of(iam_signed(amz_date=IAM_DATE.replace(tzinfo=None))) == EXPECTED_SIGNATURE
    plus_two = IAM_DATE.astimezone(timezone(timedelta(hours=2)))
    assert signature_of(iam_signed(amz_date=plus_two)) == EXPECTED_SIGNATURE


def test_header_values_are_trimmed_and_collapsed_before_signing() -> None:
    messy = {"content-type": "  application/x-www-form-urlencoded;   charset=utf-8 "}
    assert signature_of(iam_signed(headers=messy)) == EXPECTED_SIGNATURE


def test_signature_changes_with_body_date_region_service_and_secret() -> None:
    base = signature_of(iam_signed())
    variants = [
        iam_signed(body=b"{}"),
        iam_signed(body="x"),
        iam_signed(amz_date=IAM_DATE + timedelta(seconds=1)),
        iam_signed(region="eu-west-1"),
        iam_signed(service="polly"),
        iam_signed(secret_key=SECRET + "x"),
        iam_signed(method="POST"),
        iam_signed(url=IAM_URL + "&Marker=a"),
    ]
    signatures = [signature_of(v) for v in variants]
    assert base not in signatures
    assert len(set(signatures)) == len(signatures)


def test_session_token_is_sent_and_signed() -> None:
    headers = iam_signed(session_token="FQoGZXIvYXdzEXAMPLE")
    assert headers["X-Amz-Security-Token"] == "FQoGZXIvYXdzEXAMPLE"
    assert "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token," in headers["Authorization"]
    assert signature_of(headers) != EXPECTED_SIGNATURE


def test_query_is_sorted_and_rfc3986_encoded() -> None:
    assert canonical_query("b=2&a=1&a=0") == "a=0&a=1&b=2"
    assert canonical_query("Text=hello+world%21&Voice=Joanna Neural") == "Text=hello%2Bworld%21&Voice=Joanna%20Neural"
    assert canonical_query("name=a%20b&x=~-_.&empty&z=%2F") == "empty=&name=a%20b&x=~-_.&z=%2F"
    assert canonical_query("") == ""


def test_equivalent_query_encodings_sign_identically() -> None:
    spaced = iam_signed(url="https://iam.amazonaws.com/?Version=2010-05-08&Action=ListUsers&Marker=a%20b")
    reordered = iam_signed(url="https://iam.amazonaws.com/?Marker=a b&Action=ListUsers&Version=2010-05-08")
    assert signature_of(spaced) == signature_of(reordered)


def test_path_is_encoded_again_and_empty_path_is_root() -> None:
    canonical, _ = canonical_request("POST", "https://polly.us-east-1.amazonaws.com/v1/speech", {}, b"")
    assert canonical.splitlines()[1] == "/v1/speech"
    canonical, _ = canonical_request("GET", "https://example.com", {}, b"")
    assert canonical.splitlines()[1] == "/"
    canonical, _ = canonical_request("GET", "https://example.com/a%20b/c d", {}, b"")
    assert canonical.splitlines()[1] == "/a%2520b/c%20d"


def test_host_header_keeps_only_non_default_ports() -> None:
    assert host_header("https://polly.us-east-1.amazonaws.com:443/v1/speech") == "polly.us-east-1.amazonaws.com"
    assert host_header("http://127.0.0.1:8123/v1/speech") == "127.0.0.1:8123"
    assert host_header("http://[::1]:9000/") == "[::1]:9000"


def test_caller_host_and_date_headers_are_replaced_not_duplicated() -> None:
    headers = iam_signed(headers={**IAM_HEADERS, "host": "evil.example", "x-amz-date": "19990101T000000Z"})
    assert signature_of(headers) == EXPECTED_SIGNATURE
    assert [name.lower() for name in headers].count("host") == 1
