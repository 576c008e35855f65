"""``gateway.secrets_box.Cipher`` with ``cryptography`` (CPython only; the Worker uses WebCrypto instead).

``cryptography`` is imported on first use: most requests never unseal a key, and the server starts sooner."""

from __future__ import annotations


class CryptographyCipher:
    async def aes_gcm_encrypt(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        return AESGCM(key).encrypt(nonce, plaintext, aad)

    async def aes_gcm_decrypt(self, key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        return AESGCM(key).decrypt(nonce, sealed, aad)

    async def hkdf_sha256(self, secret: bytes, salt: bytes, info: bytes, length: int) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(secret)
