"""Scrub the credentials a vendor call used out of what the vendor said back.

Vendors echo credentials in error bodies (Deepgram's "Invalid credentials: <key>", proxies that repeat the
Authorization header, URLs with ``?key=``). Every vendor failure passes through the failover runner
(``FailoverRunner._attempt`` and ``stream_failed``), which scrubs its message here before anything else sees it:
the client's ``attempts[].message``, logs, the failover log and health observations all read the scrubbed error.

Any run of ``MIN_FRAGMENT`` or more characters taken from a secret (raw or percent-encoded) is hidden, so a key cut by
message truncation or echoed in part is hidden too; a shorter secret is hidden where it appears whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

from gateway.errors import ProviderError
from providers.base import Credentials

MARK = "[redacted]"
MIN_FRAGMENT = 10  # shorter runs match ordinary words too often to be worth hiding
MIN_SECRET = 4  # a credential shorter than this is not worth matching at all (it would hit ordinary text)


def secrets_of(credentials: Credentials | None) -> list[str]:
    """The key, and every extra value long enough to be a secret (AWS secret and session token, gateway tokens; not
    a region or a gateway name); base URLs are not secret."""
    if credentials is None:
        return []
    values = [v for v in credentials.extra.values() if isinstance(v, str) and len(v) >= MIN_FRAGMENT]
    if credentials.api_key and len(credentials.api_key) >= MIN_SECRET:
        values.append(credentials.api_key)
    out: list[str] = []
    for value in values:
        if not value.startswith(("http://", "https://")):
            out.extend({value, quote(value, safe="")})
    return out


def _spans(text: str, secret: str) -> Iterable[tuple[int, int]]:
    need = min(MIN_FRAGMENT, len(secret))
    i, n = 0, len(text)
    while i <= n - need:
        length = 0
        while i + length < n and text[i : i + length + 1] in secret:
            length += 1
        if length >= need:
            yield i, i + length
            i += length
        else:
            i += 1


def redact(text: str, secrets: Iterable[str]) -> str:
    spans = sorted(span for secret in secrets for span in _spans(text, secret))
    if not spans:
        return text
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, last = [], 0
    for start, end in merged:
        out += [text[last:start], MARK]
        last = end
    out.append(text[last:])
    return "".join(out)


def redact_error(error: ProviderError, credentials: Credentials | None) -> ProviderError:
    """Scrub ``error`` in place (callers may already hold it) and return it."""
    secrets = secrets_of(credentials)
    if secrets:
        error.message = redact(error.message, secrets)
        error.args = (error.message,)
    return error
