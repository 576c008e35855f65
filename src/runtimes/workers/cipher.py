"""``gateway.secrets_box.Cipher`` with WebCrypto (``crypto.subtle``): no package to vendor, and the same AES-GCM
(ciphertext || 128-bit tag) and HKDF-SHA256 as ``cryptography``, so keys sealed locally open here and the reverse."""

from __future__ import annotations

from typing import Any


def _js(value: Any) -> Any:
    import js
    from pyodide.ffi import to_js

    return to_js(value, dict_converter=js.Object.fromEntries)


def _bytes(array_buffer: Any) -> bytes:
    return bytes(array_buffer.to_bytes())


class WebCryptoCipher:
    async def _aes_key(self, key: bytes, usage: str) -> Any:
        import js

        return await js.crypto.subtle.importKey("raw", _js(key), _js({"name": "AES-GCM"}), False, _js([usage]))

    def _gcm(self, nonce: bytes, aad: bytes) -> Any:
        return _js({"name": "AES-GCM", "iv": nonce, "additionalData": aad, "tagLength": 128})

    async def aes_gcm_encrypt(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        import js

        crypto_key = await self._aes_key(key, "encrypt")
        return _bytes(await js.crypto.subtle.encrypt(self._gcm(nonce, aad), crypto_key, _js(plaintext)))

    async def aes_gcm_decrypt(self, key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        import js

        crypto_key = await self._aes_key(key, "decrypt")  # a bad tag rejects with an OperationError
        return _bytes(await js.crypto.subtle.decrypt(self._gcm(nonce, aad), crypto_key, _js(sealed)))

    async def hkdf_sha256(self, secret: bytes, salt: bytes, info: bytes, length: int) -> bytes:
        import js

        base = await js.crypto.subtle.importKey("raw", _js(secret), _js({"name": "HKDF"}), False, _js(["deriveBits"]))
        params = _js({"name": "HKDF", "hash": "SHA-256", "salt": salt, "info": info})
        return _bytes(await js.crypto.subtle.deriveBits(params, base, length * 8))
