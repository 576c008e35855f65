"""espeak-ng through ctypes: the shared library and voice data that the ``espeakng_loader`` wheel carries.

The library keeps global state (one current voice, one synth callback) and is not thread-safe, so one engine
instance owns it behind a lock. It runs in SYNCHRONOUS mode: ``espeak_Synth`` blocks and hands 16-bit mono samples
at the library's native rate (22,050 Hz) to our callback, which can abort by returning 1.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any

from providers.local.errors import Cancelled, EngineError
from providers.local.voices import VoiceCatalogue, VoiceEntry

NORMAL_WORDS_PER_MINUTE = 175
MIN_WORDS_PER_MINUTE, MAX_WORDS_PER_MINUTE = 80, 450  # espeakRATE_MINIMUM / espeakRATE_MAXIMUM

# espeak_lib.h constants
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000  # return an error instead of calling exit() when the data is missing
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE = 1
_EE_OK = 0

_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class _Voice(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),  # (priority byte, NUL-terminated tag) pairs, ended by a 0 priority
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


def words_per_minute(speed: float | None) -> int:
    """espeak's rate for a speed factor (1.0 = its normal 175 wpm), clamped to the range it accepts."""
    rate = round(NORMAL_WORDS_PER_MINUTE * (speed if speed and speed > 0 else 1.0))
    return max(MIN_WORDS_PER_MINUTE, min(MAX_WORDS_PER_MINUTE, rate))


class EspeakEngine:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lib: Any = None
        self._callback: Any = None  # kept referenced: the library calls it long after registration
        self._catalogue: VoiceCatalogue | None = None
        self._sample_rate = 0
        self._chunks: list[bytes] = []
        self._cancel: threading.Event | None = None

    @property
    def sample_rate(self) -> int:
        self.catalogue()
        return self._sample_rate

    def catalogue(self) -> VoiceCatalogue:
        """The voices espeak-ng has (loads the library on first use)."""
        if self._catalogue is None:
            with self._lock:
                self._load()
        assert self._catalogue is not None
        return self._catalogue

    def synthesize(self, text: str, voice: str, wpm: int, cancel: threading.Event) -> bytes:
        """Mono 16-bit little-endian PCM at :attr:`sample_rate`."""
        with self._lock:
            if cancel.is_set():
                raise Cancelled()
            self._load()
            lib = self._lib
            if lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
                raise EngineError(f"espeak-ng has no voice {voice!r}")
            lib.espeak_SetParameter(_PARAM_RATE, wpm, 0)
            data = text.replace("\x00", " ").encode("utf-8") + b"\x00"
            self._chunks, self._cancel = [], cancel
            try:
                status = lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
                lib.espeak_Synchronize()
                pcm = b"".join(self._chunks)
            finally:
                self._chunks, self._cancel = [], None
            if cancel.is_set():
                raise Cancelled()
            if status != _EE_OK:
                raise EngineError(f"espeak-ng synthesis failed (status {status})")
            return pcm

    # -- loading (under the lock) --------------------------------------------------------------------------------
    def _load(self) -> None:
        if self._lib is not None:
            return
        try:
            import espeakng_loader

            lib = ctypes.CDLL(espeakng_loader.get_library_path())
            data_path = espeakng_loader.get_data_path()
        except (OSError, RuntimeError) as exc:
            raise EngineError(f"espeak-ng library could not be loaded: {exc}") from None
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                     ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]  # fmt: skip
        lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode(), _INITIALIZE_DONT_EXIT)
        if rate <= 0:
            raise EngineError(f"espeak-ng failed to initialise with its data at {data_path}")
        self._callback = _SynthCallback(self._on_samples)
        lib.espeak_SetSynthCallback(self._callback)
        voices = _list_voices(lib, None)
        spec = _Voice(languages=ctypes.cast(ctypes.c_char_p(b"variant"), ctypes.c_void_p))
        variants = _list_voices(lib, ctypes.byref(spec))
        self._catalogue = VoiceCatalogue.build(voices, variants)
        self._sample_rate = rate
        self._lib = lib

    def _on_samples(self, samples: Any, count: int, _events: Any) -> int:
        if count > 0:
            self._chunks.append(ctypes.string_at(samples, count * 2))
        return 1 if self._cancel is not None and self._cancel.is_set() else 0


def _list_voices(lib: Any, spec: Any) -> list[VoiceEntry]:
    entries = []
    array = lib.espeak_ListVoices(spec)
    index = 0
    while array[index]:
        voice = array[index].contents
        entries.append(VoiceEntry((voice.identifier or b"").decode(), _languages(voice.languages)))
        index += 1
    return entries


def _languages(address: int | None) -> tuple[tuple[int, str], ...]:
    out = []
    while address:
        priority = ctypes.c_ubyte.from_address(address).value
        if priority == 0:
            break
        tag = ctypes.string_at(address + 1)
        out.append((priority, tag.decode()))
        address += len(tag) + 2
    return tuple(out)
