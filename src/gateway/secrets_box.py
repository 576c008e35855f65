"""Vendor keys at rest: AES-256-GCM under the ``KEY_ENCRYPTION_KEY`` secret.

``cryptography`` is a well-kept implementation that also ships in Pyodide, so one code path serves both runtimes.
The secret may be 32 random bytes in base64 (preferred; ``voice-gateway dev`` generates one) or any passphrase, which
is stretched with HKDF-SHA256 so that a short secret still yields a full-length key.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = "v1"
_AAD = b"voice-gateway/vendor-key"


class SecretBoxError(Exception):
    """Raised when a ciphertext cannot be opened (wrong key, tampered, or malformed). Never carries the secret."""


def _derive_key(secret: str) -> bytes:
    try:
        raw = base64.b64decode(secret, validate=True)
        if len(raw) == 32:
            return raw
    except (binascii.Error, ValueError):
        pass
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"voice-gateway", info=b"vendor-keys").derive(
        secret.encode()
    )


class SecretBox:
    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("KEY_ENCRYPTION_KEY is empty")
        self._aead = AESGCM(_derive_key(secret))

    def seal(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), _AAD)
        return f"{_VERSION}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, token: str) -> str:
        version, _, payload = token.partition(":")
        if version != _VERSION or not payload:
            raise SecretBoxError("unknown ciphertext format")
        try:
            blob = base64.b64decode(payload, validate=True)
            return self._aead.decrypt(blob[:12], blob[12:], _AAD).decode()
        except Exception:  # InvalidTag, binascii.Error, UnicodeDecodeError: all mean "cannot open"
            raise SecretBoxError("ciphertext could not be decrypted with KEY_ENCRYPTION_KEY") from None


def generate_secret() -> str:
    return base64.b64encode(os.urandom(32)).decode()
