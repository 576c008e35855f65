"""OpenAI: TTS, STT and chat over OpenAI's REST API (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``)."""

from providers.openai.provider import OpenAIProvider

__all__ = ["OpenAIProvider"]
