"""The built-in ``local`` vendor (espeak-ng TTS, PocketSphinx STT): an optional dependency group of the local runtime.

Importing this package is cheap: it only checks that the engines' packages are installed, so the registry's
``available_provider_ids`` drops ``local`` (ImportError) where they are not — always on Workers, where they are
never vendored. The libraries and models load on first use.
"""

from __future__ import annotations

from importlib.util import find_spec

_ENGINE_PACKAGES = ("espeakng_loader", "pocketsphinx", "miniaudio", "soxr", "numpy", "soundfile")
_missing = [name for name in _ENGINE_PACKAGES if find_spec(name) is None]
if _missing:
    raise ImportError(f"the local speech engines need the optional packages: {', '.join(_missing)}")

from providers.local.provider import LocalProvider  # noqa: E402  (only once the engines are known present)

__all__ = ["LocalProvider"]
