"""Speaker diarization backends and their factory.

``embedding`` (default, offline): resemblyzer voice embeddings + clustering with an estimated
speaker count. ``pyannote``: a pyannote.audio pipeline (hub id with a token, or a local path).
``none``: no diarization. Backends are imported lazily, so importing this package is cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from castgraph.core.errors import DependencyError, InputError
from castgraph.core.settings import DiarizerName

if TYPE_CHECKING:
    from castgraph.core.ports import Diarizer

__all__ = ["make_diarizer", "missing_dependency"]

DEFAULT_PYANNOTE_PIPELINE = "pyannote/speaker-diarization-3.1"


def missing_dependency(package: str, install: str) -> DependencyError:
    """A DependencyError whose message gives the exact command that installs ``package``."""
    return DependencyError(package, install=f"run  {install}  to enable it")


def make_diarizer(
    name: DiarizerName,
    *,
    models_dir: Path,
    max_speakers: int = 8,
    pyannote_pipeline: str = DEFAULT_PYANNOTE_PIPELINE,
    hf_token: str | None = None,
    device: str = "cpu",
) -> Diarizer | None:
    """Build the diarizer called ``name`` (not loaded yet); ``None`` for ``"none"``."""
    if name == "none":
        return None
    if name == "embedding":
        from castgraph.ingest.diarize.embedding import EmbeddingDiarizer

        return EmbeddingDiarizer(models_dir, max_speakers=max_speakers, device=device)
    if name == "pyannote":
        from castgraph.ingest.diarize.pyannote import PyannoteDiarizer

        return PyannoteDiarizer(pyannote_pipeline, hf_token, device, max_speakers=max_speakers)
    raise InputError(f"unknown diarizer {name!r}: choose embedding, pyannote or none")
