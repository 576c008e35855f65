"""PocketSphinx 5 with the US-English acoustic model, dictionary and language model its wheel carries.

One decoder, loaded once (about half a second) and reused behind a lock: a decoder is not thread-safe, and
loading one per request would cost more than most recognitions. Audio must be 16 kHz mono 16-bit.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from providers.local.errors import Cancelled, EngineError

if TYPE_CHECKING:
    import numpy as np

SAMPLE_RATE = 16000
# Half a second of silence in front of the speech gives the decoder's live cepstral-mean normalisation something
# to settle on before the first word. Measured on 27 espeak-ng utterances: 79 % of words recovered vs 77 % without
# (a small gain, not in every voice). Word timings are shifted back so they refer to the caller's audio.
LEAD_IN_SECONDS = 0.5
_CHUNK_SAMPLES = SAMPLE_RATE // 10  # 0.1 s per call: the binding holds the GIL while it decodes
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
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._decoder: Any = None
        self._frame_rate = 100

    def load(self) -> None:
        with self._lock:
            self._load()

    def recognize(self, samples: np.ndarray, cancel: threading.Event) -> list[RecognizedWord]:
        """Words in ``samples`` (int16, 16 kHz mono), with times relative to the caller's audio."""
        import numpy as np  # lazily: importing the package must stay cheap

        duration = samples.size / SAMPLE_RATE
        padded = np.concatenate([np.zeros(int(LEAD_IN_SECONDS * SAMPLE_RATE), dtype=np.int16), samples])
        with self._lock:
            if cancel.is_set():
                raise Cancelled()
            self._load()
            decoder = self._decoder
            try:
                decoder.start_utt()
                try:
                    for offset in range(0, padded.size, _CHUNK_SAMPLES):
                        if cancel.is_set():
                            raise Cancelled()
                        decoder.process_raw(padded[offset : offset + _CHUNK_SAMPLES].tobytes(), False, False)
                finally:
                    decoder.end_utt()
                segments = [(s.word, s.start_frame, s.end_frame, s.prob) for s in decoder.seg()]
            except RuntimeError as exc:
                raise EngineError(f"PocketSphinx failed: {exc}") from None
        return self._words(segments, duration)

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

    # -- loading (under the lock) --------------------------------------------------------------------------------
    def _load(self) -> None:
        if self._decoder is not None:
            return
        try:
            from pocketsphinx import Decoder

            # The wheel's default en-us acoustic model, dictionary and 3-gram LM: of the settings we tried on
            # espeak-ng speech (batch CMN, dithering, other CMN seeds) none recovered more words.
            decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")
            self._frame_rate = int(decoder.config["frate"])
        except (ImportError, OSError, RuntimeError, ValueError) as exc:
            raise EngineError(f"PocketSphinx could not load its en-us model: {exc}") from None
        self._decoder = decoder


def _probability(prob: float) -> float | None:
    """A word posterior as a confidence: log-domain rounding can put a certain word a hair above 1.0."""
    if not math.isfinite(prob):
        return None
    return round(min(1.0, max(0.0, prob)), 4)
