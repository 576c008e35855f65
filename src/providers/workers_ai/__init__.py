"""Cloudflare Workers AI adapter (AI Gateway REST, or the ``AI`` binding on Workers).

Modules: ``api`` (URLs, auth, envelope, errors), ``tts`` / ``stt`` / ``llm`` (pure wire formats per operation),
``binding`` (the ``env.AI.run`` path), ``provider`` (the I/O methods).
"""

from .provider import WorkersAIProvider

__all__ = ["WorkersAIProvider"]
