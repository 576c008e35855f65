"""AWS Signature Version 4, by hand.

Why hand-written: boto3/botocore cannot run in a Python Worker (they pull in urllib3 sockets, threads and a large
data tree that Pyodide cannot vendor), and the gateway only needs to sign a handful of JSON requests. SigV4 is a few
HMACs over a canonical form of the request, so the standard library's ``hmac``/``hashlib`` suffice.

Steps (AWS "Create a signed AWS API request"; see reference/providers.md §5.2):
  canonical request = METHOD \n URI \n QUERY \n CANONICAL_HEADERS \n SIGNED_HEADERS \n hex(sha256(body))
  string to sign    = AWS4-HMAC-SHA256 \n amzDate \n date/region/service/aws4_request \n hex(sha256(canonical))
  signing key       = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")
  Authorization     = AWS4-HMAC-SHA256 Credential=AKID/scope, SignedHeaders=..., Signature=hex(HMAC(key, sts))
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import quote, unquote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    """kSigning for one day, region and service (``date`` is YYYYMMDD)."""
    k_date = _hmac(("AWS4" + secret_key).encode("utf-8"), date)
    return _hmac(_hmac(_hmac(k_date, region), service), "aws4_request")


def _rfc3986(value: str) -> str:
    """Percent-encode everything but the unreserved characters (so a space is ``%20``, never ``+``)."""
    return quote(value, safe="-_.~")


def canonical_query(query: str) -> str:
    """Query parameters decoded, re-encoded per RFC 3986 and sorted by name, then value."""
    pairs = []
    for part in query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        pairs.append((_rfc3986(unquote(name)), _rfc3986(unquote(value))))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def canonical_uri(path: str) -> str:
    """The path as sent, encoded once more (every service but S3 double-encodes; ``/v1/speech`` is unchanged)."""
    return quote(path or "/", safe="/~")


def _header_value(value: str) -> str:
    return " ".join(value.split())  # trim, and collapse runs of whitespace to one space


def host_header(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host += f":{parts.port}"
    return host


def canonical_request(method: str, url: str, headers: Mapping[str, str], body: bytes) -> tuple[str, str]:
    """(canonical request, signed header list) for ``headers`` exactly as they will be sent."""
    parts = urlsplit(url)
    canon = {name.lower().strip(): _header_value(value) for name, value in headers.items()}
    signed = ";".join(sorted(canon))
    lines = "".join(f"{name}:{canon[name]}\n" for name in sorted(canon))
    request = "\n".join(
        [method.upper(), canonical_uri(parts.path), canonical_query(parts.query), lines, signed, _sha256_hex(body)]
    )
    return request, signed


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{_sha256_hex(canonical.encode('utf-8'))}"


def sign(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | str | None,
    *,
    access_key: str,
    secret_key: str,
    region: str,
    service: str,
    amz_date: datetime | None = None,
    session_token: str | None = None,
) -> dict[str, str]:
    """The headers to send: ``headers`` plus Host, X-Amz-Date, X-Amz-Security-Token (temporary credentials) and
    Authorization. Every returned header is signed, so send exactly these with exactly ``body``."""
    when = amz_date or datetime.now(UTC)
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    stamp, day = when.strftime("%Y%m%dT%H%M%SZ"), when.strftime("%Y%m%d")
    payload = body.encode("utf-8") if isinstance(body, str) else (body or b"")

    out = {name: value for name, value in headers.items() if name.lower() not in ("host", "x-amz-date")}
    out["Host"] = host_header(url)
    out["X-Amz-Date"] = stamp
    if session_token:
        out["X-Amz-Security-Token"] = session_token
    canonical, signed = canonical_request(method, url, out, payload)
    scope = f"{day}/{region}/{service}/aws4_request"
    signature = hmac.new(
        signing_key(secret_key, day, region, service),
        string_to_sign(stamp, scope, canonical).encode("utf-8"),
        hashlib.sha256,
    ).hexdigest()
    out["Authorization"] = f"{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={signed}, Signature={signature}"
    return out
