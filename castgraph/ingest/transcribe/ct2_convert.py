"""CTranslate2 Whisper → openai-whisper conversion, as seen from the transcription backends.

The implementation lives in :mod:`castgraph.modelfiles.ct2_convert` because ``install_packaged``
runs it and ``modelfiles`` may not import ``ingest`` (the layering rule).
"""

from __future__ import annotations

from castgraph.modelfiles.ct2_convert import (
    Ct2Model,
    alignment_heads_dump,
    convert_whisper,
    read_ct2_model,
    verify_whisper_checkpoint,
    whisper_checkpoint,
    whisper_dims,
)

__all__ = [
    "Ct2Model",
    "alignment_heads_dump",
    "convert_whisper",
    "read_ct2_model",
    "verify_whisper_checkpoint",
    "whisper_checkpoint",
    "whisper_dims",
]
