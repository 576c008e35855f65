"""Vendor keys at rest: AES-256-GCM under the ``KEY_ENCRYPTION_KEY`` secret, in one format for both runtimes.

The format lives here; the primitives are a port (:class:`Cipher`), because no single library serves both runtimes:
the local runtime uses ``cryptography`` (``runtimes.local.cipher``), the Worker uses WebCrypto (``crypto.subtle``,
``runtimes.workers.cipher``) — ``cryptography`` has no Pyodide build on PyPI. A key sealed by one opens on the other.

Format: ``v1:`` + base64(nonce[12] || AES-GCM ciphertext || tag[16]), associated data ``voice-gateway/vendor-key``.
The secret may be 32 random bytes in base64 (preferred; ``voice-gateway dev`` generates one) or any passphrase, which
is stretched with HKDF-SHA256 (salt ``voice-gateway``, info ``vendor-keys``) so a short secret still yields a full key.
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Protocol

_VERSION = "v1"
_AAD = b"voice-gateway/vendor-key"
_NONCE_BYTES = 12
_HKDF_SALT = b"voice-gateway"
_HKDF_INFO = b"vendor-keys"


class SecretBoxError(Exception):
    """Raised when a ciphertext cannot be opened (wrong key, tampered, or malformed). Never carries the secret."""


class Cipher(Protocol):
    """The primitives a runtime provides. ``aes_gcm_decrypt`` raises (any exception) when the tag does not verify."""

    async def aes_gcm_encrypt(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes: ...

    async def aes_gcm_decrypt(self, key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes: ...

    async def hkdf_sha256(self, secret: bytes, salt: bytes, info: bytes, length: int) -> bytes: ...


def _raw_key(secret: str) -> bytes | None:
    try:
        raw = base64.b64decode(secret, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 32 else None


class SecretBox:
    def __init__(self, secret: str, cipher: Cipher) -> None:
        if not secret:
            raise ValueError("KEY_ENCRYPTION_KEY is empty")
        self._secret = secret
        self._cipher = cipher
        self._key: bytes | None = _raw_key(secret)

    async def _derived(self) -> bytes:
        if self._key is None:  # a passphrase: derived once, on first use (derivation may be async, e.g. WebCrypto)
            self._key = await self._cipher.hkdf_sha256(self._secret.encode(), _HKDF_SALT, _HKDF_INFO, 32)
        return self._key

    async def seal(self, plaintext: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = await self._cipher.aes_gcm_encrypt(await self._derived(), nonce, plaintext.encode(), _AAD)
        return f"{_VERSION}:{base64.b64encode(nonce + sealed).decode()}"

    async def open(self, token: str) -> str:
        version, _, payload = token.partition(":")
        if version != _VERSION or not payload:
            raise SecretBoxError("unknown ciphertext format")
        try:
            blob = base64.b64decode(payload, validate=True)
            if len(blob) <= _NONCE_BYTES:
                raise ValueError("too short")
            opened = await self._cipher.aes_gcm_decrypt(
                await self._derived(), blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], _AAD
            )
            return opened.decode()
        except Exception:  # a bad tag, bad base64, bad UTF-8 (each library names them differently): "cannot open"
            raise SecretBoxError("ciphertext could not be decrypted with KEY_ENCRYPTION_KEY") from None


def generate_secret() -> str:
    return base64.b64encode(os.urandom(32)).decode()
