"""Sealing vendor keys: one format over the runtime's ``Cipher`` (here the local one, ``cryptography``).

That the Worker's WebCrypto cipher produces and opens the same format is proven by the edge tier (tests/edge/).
"""

from __future__ import annotations

import base64

import pytest

from gateway.secrets_box import SecretBox, SecretBoxError, generate_secret
from runtimes.local.cipher import CryptographyCipher


@pytest.mark.parametrize("secret", [generate_secret(), "a short passphrase"])
async def test_round_trip_with_a_raw_key_or_a_passphrase(secret: str) -> None:
    box = SecretBox(secret, CryptographyCipher())
    sealed = await box.seal("sk-vendor-key")
    assert sealed.startswith("v1:") and "sk-vendor-key" not in sealed
    assert len(base64.b64decode(sealed[3:])) == 12 + len("sk-vendor-key") + 16  # nonce || ciphertext || tag
    assert await box.open(sealed) == "sk-vendor-key"
    assert await box.seal("sk-vendor-key") != sealed  # a fresh nonce every time


async def test_wrong_key_tampering_and_garbage_cannot_be_opened() -> None:
    box = SecretBox("one passphrase", CryptographyCipher())
    sealed = await box.seal("sk-vendor-key")
    raw = bytearray(base64.b64decode(sealed[3:]))
    raw[-1] ^= 1
    for token, box_used in [
        (sealed, SecretBox("another passphrase", CryptographyCipher())),
        ("v1:" + base64.b64encode(bytes(raw)).decode(), box),
        ("v1:not base64!", box),
        ("v1:" + base64.b64encode(b"short").decode(), box),
        ("v2:" + sealed[3:], box),
    ]:
        with pytest.raises(SecretBoxError) as caught:
            await box_used.open(token)
        assert "sk-vendor-key" not in str(caught.value)


def test_an_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        SecretBox("", CryptographyCipher())
