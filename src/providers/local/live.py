"""Incremental recognition for realtime sessions: PocketSphinx 5's ``Endpointer`` (WebRTC VAD) finds where speech
starts and stops; a live ``Decoder`` gets every speech frame as it arrives (``process_raw``) and its partial
hypothesis becomes an interim transcript; when the endpointer says the speech ended, the utterance is decoded again
in one piece with batch CMN and a lead-in of silence (the settings ``stt`` measured best on espeak-ng speech) and
that is the final transcript, followed by the end of the turn.

Pure computation over 16 kHz mono 16-bit PCM: this runs inside the realtime worker process (``live_worker``), one
recognizer per session. Events are plain dicts in the local wire protocol (``live_protocol`` translates them).
Times are seconds from the start of the session's audio.
"""

from __future__ import annotations

from typing import Any

from providers.local.stt import SAMPLE_RATE, SphinxEngine, clean_word

PARTIAL_EVERY_SECONDS = 0.25  # how often a changed partial hypothesis is sent (and, without one, a heartbeat)
ENDPOINT_WINDOW = 0.5  # seconds of mostly non-speech that end a turn (the endpointer's default is 0.3: too eager
# for espeak-ng's pauses between clauses)


class LiveRecognizer:
    def __init__(self) -> None:
        from pocketsphinx import Decoder, Endpointer

        self._endpointer = Endpointer(window=ENDPOINT_WINDOW, sample_rate=SAMPLE_RATE)
        self._frame_bytes = self._endpointer.frame_bytes
        self._live = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL", fwdflat=False, bestpath=False)
        self._final = SphinxEngine()
        self._final.load()
        self._pending = b""  # input not yet a whole endpointer frame
        self._received = 0  # bytes of audio received
        self._utterance: list[bytes] = []  # the current turn's speech, for the final decode
        self._utterance_start = 0.0
        self._last_partial = ""
        self._last_report = 0.0
        self._turn = 0

    @property
    def seconds(self) -> float:
        return self._received / 2 / SAMPLE_RATE

    def feed(self, pcm: bytes) -> list[dict[str, Any]]:
        """Events caused by these samples (possibly none)."""
        events: list[dict[str, Any]] = []
        data = self._pending + pcm
        usable = len(data) - len(data) % self._frame_bytes
        self._pending = data[usable:]
        for offset in range(0, usable, self._frame_bytes):
            self._received += self._frame_bytes
            was_speaking = self._endpointer.in_speech
            speech = self._endpointer.process(data[offset : offset + self._frame_bytes])
            if speech is not None:
                if not was_speaking:
                    events.append(self._start_turn())
                self._speech(speech)
                if not self._endpointer.in_speech:
                    events.extend(self._end_turn(self._endpointer.speech_end))
        if self.seconds - self._last_report >= PARTIAL_EVERY_SECONDS:
            events.append(self._progress())
        return events

    def finish(self) -> list[dict[str, Any]]:
        """The end of the stream: finish a turn still being spoken."""
        events: list[dict[str, Any]] = []
        if self._endpointer.in_speech:
            tail = self._pending[: self._frame_bytes]
            self._received += len(tail)
            speech = self._endpointer.end_stream(tail)
            if speech is not None:
                self._speech(speech)
            events.extend(self._end_turn(self.seconds))
        self._pending = b""
        return events

    # -- one turn ------------------------------------------------------------------------------------------------
    def _start_turn(self) -> dict[str, Any]:
        self._utterance_start = self._endpointer.speech_start
        self._utterance = []
        self._last_partial = ""
        self._live.start_utt()
        return {"type": "start", "turn": self._turn, "start": round(self._utterance_start, 3)}

    def _speech(self, speech: bytes) -> None:
        self._utterance.append(speech)
        self._live.process_raw(speech, False, False)

    def _progress(self) -> dict[str, Any]:
        """A changed partial hypothesis as an interim transcript, else a heartbeat (the relay's liveness check)."""
        self._last_report = self.seconds
        if self._endpointer.in_speech:
            hyp = self._live.hyp()
            text = " ".join(w for w in (clean_word(t) for t in (hyp.hypstr.split() if hyp else [])) if w)
            if text and text != self._last_partial:
                self._last_partial = text
                return {"type": "partial", "turn": self._turn, "text": text,
                        "start": round(self._utterance_start, 3), "end": round(self.seconds, 3)}  # fmt: skip
        return {"type": "progress", "end": round(self.seconds, 3)}

    def _end_turn(self, end: float) -> list[dict[str, Any]]:
        self._live.end_utt()
        words = self._final.recognize(b"".join(self._utterance))
        self._utterance = []
        start = self._utterance_start
        final = {
            "type": "final", "turn": self._turn, "start": round(start, 3), "end": round(end, 3),
            "text": " ".join(w.word for w in words),
            "words": [[w.word, round(start + w.start, 3), round(start + w.end, 3), w.probability] for w in words],
        }  # fmt: skip
        self._turn += 1
        self._last_report = self.seconds
        return [final]
