"""The streaming tests' Deepgram WebSocket fake, for the speak-stream cache tests."""

from tests.gateway.streaming.conftest import _reset_ws_fake, deepgram_ws  # noqa: F401
