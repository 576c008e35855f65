"""The session's audio timeline: every byte sent upstream (client audio and keepalive silence) has a position.

The replay buffer keeps the last ``max_seconds`` of it so a failover can resend audio the new vendor never heard.
Positions are in bytes (whole sample frames); times are seconds on the session's clock.
"""

from __future__ import annotations

from collections import deque


class AudioTimeline:
    def __init__(self, bytes_per_second: int, frame_bytes: int, max_seconds: float) -> None:
        self.bytes_per_second = bytes_per_second
        self.frame_bytes = frame_bytes
        self.max_bytes = int(max_seconds * bytes_per_second)
        self.position = 0  # bytes appended so far
        self._chunks: deque[tuple[int, bytes]] = deque()  # (start position, data)
        self._held = 0

    def seconds(self, position: int) -> float:
        return position / self.bytes_per_second

    def position_at(self, seconds: float) -> int:
        raw = int(max(0.0, seconds) * self.bytes_per_second)
        return raw - raw % self.frame_bytes

    @property
    def oldest(self) -> int:
        return self._chunks[0][0] if self._chunks else self.position

    def append(self, data: bytes) -> None:
        self._chunks.append((self.position, data))
        self.position += len(data)
        self._held += len(data)
        while self._chunks and self._held - len(self._chunks[0][1]) >= self.max_bytes:
            self._held -= len(self._chunks.popleft()[1])

    def since(self, position: int) -> tuple[int, list[bytes]]:
        """(where the replay really starts, the audio from there to now): never older than the buffer holds."""
        start = max(position, self.oldest)
        start -= (start - self.oldest) % self.frame_bytes if self._chunks else 0
        out: list[bytes] = []
        for chunk_start, data in self._chunks:
            chunk_end = chunk_start + len(data)
            if chunk_end <= start:
                continue
            out.append(data[max(0, start - chunk_start) :])
        return start, out
