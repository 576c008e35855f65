"""PocketSphinx 5 with the US-English acoustic model, dictionary and language model its wheel carries.

One decoder, loaded once (about half a second) and reused: loading one per request would cost more than most
recognitions. Audio must be 16 kHz mono 16-bit.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from providers.local.errors import EngineError

SAMPLE_RATE = 16000
# Half a second of silence in front of the speech helps the decoder find the first word. Measured on 20 espeak-ng
# sentences (default voice): 79 % of words recovered with it, 75 % without. Timings are shifted back to the
# caller's audio.
LEAD_IN_SECONDS = 0.5
LOAD_ONLY = 0xFFFFFFFF  # worker protocol: a job length that means "load the model and answer" (probes)
_ALTERNATE_SUFFIX = re.compile(r"\(\d+\)$")  # "read(2)": the dictionary's second pronunciation of "read"


@dataclass(frozen=True)
class RecognizedWord:
    word: str
    start: float  # seconds from the start of the caller's audio
    end: float
    probability: float | None  # the word's posterior probability in the decoder's lattice


def clean_word(token: str) -> str | None:
    """The spoken word of a decoder token, or None for fillers and silence (<s>, </s>, <sil>, [NOISE], ++UH++)."""
    if not token or token[0] in "<[+":
        return None
    return _ALTERNATE_SUFFIX.sub("", token) or None


class SphinxEngine:
    """The decoder itself. It runs inside the recognizer's worker process (see ``recognizer``), one job at a time."""

    def __init__(self) -> None:
        self._decoder: Any = None
        self._frame_rate = 100
        self._initial_cmn = ""

    def recognize(self, pcm: bytes) -> list[RecognizedWord]:
        """Words in ``pcm`` (16-bit little-endian, 16 kHz mono), with times relative to the caller's audio."""
        import numpy as np  # lazily: importing the package must stay cheap

        samples = np.frombuffer(pcm, dtype="<i2")
        padded = np.concatenate([np.zeros(int(LEAD_IN_SECONDS * SAMPLE_RATE), dtype="<i2"), samples])
        self.load()
        decoder = self._decoder
        try:
            # Every request starts from the model's initial cepstral mean, never the previous caller's.
            decoder.set_cmn(self._initial_cmn)
            decoder.start_utt()
            try:
                decoder.process_raw(padded.tobytes(), False, True)  # full utterance: batch CMN
            finally:
                decoder.end_utt()
            segments = [(s.word, s.start_frame, s.end_frame, s.prob) for s in decoder.seg()]
        except RuntimeError as exc:
            raise EngineError(f"PocketSphinx failed: {exc}") from None
        return self._words(segments, samples.size / SAMPLE_RATE)

    def _words(self, segments: list[tuple[str, int, int, float]], duration: float) -> list[RecognizedWord]:
        words = []
        for token, start_frame, end_frame, prob in segments:
            word = clean_word(token)
            if word is None:
                continue
            # end_frame is inclusive; both ends are shifted back past the lead-in and kept inside the audio.
            start = min(duration, max(0.0, start_frame / self._frame_rate - LEAD_IN_SECONDS))
            end = min(duration, max(start, (end_frame + 1) / self._frame_rate - LEAD_IN_SECONDS))
            words.append(RecognizedWord(word, round(start, 3), round(end, 3), _probability(prob)))
        return words

    def load(self) -> None:
        if self._decoder is not None:
            return
        try:
            from pocketsphinx import Decoder

            # The wheel's default en-us acoustic model, dictionary and 3-gram LM. CMN "batch" normalises each request
            # by its own cepstral mean: as accurate on espeak-ng speech as the default "live" CMN (79 % of words),
            # which only got there by carrying its estimate over from earlier requests (reset per request: 67 %).
            decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL", cmn="batch")
            self._frame_rate = int(decoder.config["frate"])
            self._initial_cmn = decoder.get_cmn(False)
        except (ImportError, OSError, RuntimeError, ValueError) as exc:
            raise EngineError(f"PocketSphinx could not load its en-us model: {exc}") from None
        self._decoder = decoder


def _probability(prob: float) -> float | None:
    """A word posterior as a confidence: log-domain rounding can put a certain word a hair above 1.0."""
    if not math.isfinite(prob):
        return None
    return round(min(1.0, max(0.0, prob)), 4)
