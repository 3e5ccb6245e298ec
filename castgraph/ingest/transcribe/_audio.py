"""Reading the transcribers' input (16 kHz mono WAV) and helpers shared by the backends."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from castgraph.core.errors import MediaError

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
SILENCE_PEAK = 1e-3
"""Below this peak amplitude (about -60 dBFS) audio is silence; no model needs to run."""

Audio = npt.NDArray[np.float32]


def load_audio(path: Path) -> Audio:
    """Read ``path`` as float32 mono 16 kHz (downmixing/resampling if needed); else MediaError."""
    import soundfile

    if not path.is_file():
        raise MediaError(f"audio file not found: {path}")
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, ValueError) as e:
        raise MediaError(f"cannot decode {path} as audio: {e}") from e
    mono: Audio = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    if rate != SAMPLE_RATE:
        from scipy.signal import resample_poly

        gcd = int(np.gcd(int(rate), SAMPLE_RATE))
        logger.debug("resampling %s from %d Hz", path, rate)
        mono = resample_poly(mono, SAMPLE_RATE // gcd, int(rate) // gcd).astype(np.float32)
    return np.ascontiguousarray(mono)


def is_silent(audio: Audio) -> bool:
    """True when the audio is empty or never rises above :data:`SILENCE_PEAK`."""
    return audio.size == 0 or float(np.max(np.abs(audio))) < SILENCE_PEAK


def speech_spans(audio: Audio, **vad_options: Any) -> list[tuple[float, float]]:
    """Speech regions in seconds, from the Silero VAD that ships with faster-whisper."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    stamps = get_speech_timestamps(audio, VadOptions(**vad_options))
    return [(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in stamps]


def thread_count(cpu_threads: int) -> int:
    """``cpu_threads``, or one per core when 0."""
    return cpu_threads if cpu_threads > 0 else (os.cpu_count() or 1)


def clean_word(text: str) -> str:
    """A recognised word without the leading space Whisper tokens carry."""
    return text.strip()
