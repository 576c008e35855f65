"""Streaming speech: sentence-by-sentence TTS with mid-stream failover, and the realtime WebSocket relay.

sentences.py     split text where a vendor switch can happen (sentence boundaries)
joiner.py        glue audio from several vendors into one stream (one WAV header, ID3 stripped from MP3)
tts_stream.py    /voice/stream: relay chunks, fail over before the first byte and between sentences
upstream.py      open, read and stop an upstream WebSocket through the runtime port; failures become ProviderError
timeline.py      the session's audio timeline: replay buffer and vendor-time → session-time offsets
listen_relay.py  /voice/realtime: client ⇄ vendor, keepalive, stall detection, failover with replay
speak_relay.py   /voice/speak-stream: Speak/Flush/Clear/Close relayed to vendor WebSockets, failover between flushes
"""
