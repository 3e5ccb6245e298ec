"""Reading the transcribers' input (16 kHz mono WAV) and helpers shared by the backends."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from castgraph.core.text import strip_control

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


MAX_PROMPT_CHARS = 200
"""Whisper's prompt shares 224 tokens with the previous window's text: hints stay short."""


def prompt_text(hints: Sequence[str], max_chars: int = MAX_PROMPT_CHARS) -> str | None:
    """Names likely said, as one comma-separated prompt within ``max_chars`` (None: no hints).

    Hints come from untrusted metadata: control characters are dropped and each is cut short.
    """
    kept: list[str] = []
    used = 0
    for hint in hints:
        text = " ".join(strip_control(hint, " ").split())[:60]
        if text and used + len(text) + 2 <= max_chars:
            kept.append(text)
            used += len(text) + 2
    return ", ".join(kept) or None
