"""Reading the transcribers' input (16 kHz mono WAV) and helpers shared by the backends."""

from __future__ import annotations

import logging
import os

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

SILENCE_PEAK = 1e-3
"""Below this peak amplitude (about -60 dBFS) audio is silence; no model needs to run."""

Audio = npt.NDArray[np.float32]


def is_silent(audio: Audio) -> bool:
    """True when the audio is empty or never rises above :data:`SILENCE_PEAK`."""
    return audio.size == 0 or float(np.max(np.abs(audio))) < SILENCE_PEAK


def thread_count(cpu_threads: int) -> int:
    """``cpu_threads``, or one per core when 0."""
    return cpu_threads if cpu_threads > 0 else (os.cpu_count() or 1)


def clean_word(text: str) -> str:
    """A recognised word without the leading space Whisper tokens carry."""
    return text.strip()
