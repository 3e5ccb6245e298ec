"""Speech regions from the Silero VAD model that faster-whisper ships (works offline)."""

from __future__ import annotations

import logging

import numpy as np
from numpy.typing import NDArray

from castgraph.core.errors import DependencyError, ModelError
from castgraph.ingest.audio import SAMPLE_RATE

logger = logging.getLogger(__name__)

Region = tuple[float, float]


def speech_regions(
    audio: NDArray[np.float32],
    *,
    threshold: float = 0.35,
    min_speech: float = 0.25,
    min_silence: float = 0.3,
    pad: float = 0.2,
) -> list[Region]:
    """Return (start, end) seconds of speech in 16 kHz mono ``audio``.

    The defaults suit diarization, which wants tight regions: short silences split regions
    (``min_silence``) and only a little padding is added around each one.
    """
    if audio.size == 0:
        return []
    try:
        from faster_whisper.vad import VadOptions, get_speech_timestamps
    except ImportError as e:
        raise DependencyError("faster-whisper") from e
    options = VadOptions(
        threshold=threshold,
        min_speech_duration_ms=int(min_speech * 1000),
        min_silence_duration_ms=int(min_silence * 1000),
        speech_pad_ms=int(pad * 1000),
    )
    try:
        stamps = get_speech_timestamps(np.ascontiguousarray(audio, dtype=np.float32), options)
    except Exception as e:  # onnxruntime or missing asset errors
        raise ModelError(f"Silero VAD failed: {e}") from e
    regions = [(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in stamps]
    logger.debug("VAD found %d speech regions (%.1f s)", len(regions), total(regions))
    return regions


def total(regions: list[Region]) -> float:
    """Summed duration of ``regions``."""
    return float(sum(end - start for start, end in regions))
