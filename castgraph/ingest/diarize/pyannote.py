"""pyannote.audio diarization backend (``pip install 'castgraph[pyannote]'``).

``pipeline`` is a Hugging Face hub id (e.g. ``pyannote/speaker-diarization-3.1``, which needs a
token after accepting its conditions) or a local path to a pipeline folder or ``config.yaml``.
Audio is handed to the pipeline in memory (``{"waveform", "sample_rate"}``), so no audio decoding
library beyond soundfile is needed. Works with pyannote.audio 3.1+ (``Annotation``, optionally
``(Annotation, embeddings)``) and 4.x (an output object with ``speaker_diarization`` and
``speaker_embeddings``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from castgraph.core.errors import DependencyError, ModelError
from castgraph.core.models import Diarization, SpeakerTurn

logger = logging.getLogger(__name__)

PipelineLoader = Callable[[str, str | None], Any]


def _load_pipeline(pipeline: str, hf_token: str | None) -> Any:
    """``Pipeline.from_pretrained`` with the token keyword of pyannote 4 (or 3.x's)."""
    try:
        from pyannote.audio import Pipeline
    except ImportError as e:
        raise DependencyError("pyannote.audio", "pyannote") from e
    local = Path(pipeline).expanduser()
    source = str(local) if local.exists() else pipeline
    try:
        return Pipeline.from_pretrained(source, token=hf_token)
    except TypeError:  # pyannote.audio 3.x names it use_auth_token
        return Pipeline.from_pretrained(source, use_auth_token=hf_token)


class PyannoteDiarizer:
    """Diarizer protocol implementation backed by a pyannote.audio pipeline."""

    def __init__(
        self,
        pipeline: str,
        hf_token: str | None,
        device: str = "cpu",
        *,
        max_speakers: int | None = None,
        loader: PipelineLoader | None = None,
    ) -> None:
        self.pipeline_name = pipeline
        self.hf_token = hf_token
        self.device = device
        self.max_speakers = max_speakers
        self._loader = loader or _load_pipeline
        self._pipeline: Any = None

    def load(self) -> None:
        """Load the pipeline and move it to the device."""
        if self._pipeline is not None:
            return
        try:
            pipeline = self._loader(self.pipeline_name, self.hf_token)
        except (DependencyError, ModelError):
            raise
        except Exception as e:
            raise ModelError(f"cannot load pyannote pipeline {self.pipeline_name!r}: {e}") from e
        if pipeline is None:  # pyannote 3.x returns None when the hub refuses access
            raise ModelError(
                f"pyannote pipeline {self.pipeline_name!r} could not be loaded: accept its user "
                "conditions on the hub and set CASTGRAPH_HF_TOKEN, or give a local path"
            )
        if self.device != "cpu" and hasattr(pipeline, "to"):
            import torch

            pipeline.to(torch.device(self.device))
        self._pipeline = pipeline
        logger.info("pyannote pipeline %s loaded on %s", self.pipeline_name, self.device)

    def diarize(self, wav_path: Path, *, num_speakers: int | None = None) -> Diarization:
        """Run the pipeline on a 16 kHz mono WAV file."""
        self.load()
        audio = self._audio(wav_path)
        kwargs: dict[str, Any] = {}
        if num_speakers is not None:
            kwargs["num_speakers"] = num_speakers
        elif self.max_speakers is not None:
            kwargs["max_speakers"] = self.max_speakers
        try:
            try:
                output = self._pipeline(audio, return_embeddings=True, **kwargs)
            except TypeError:  # pipelines without return_embeddings
                output = self._pipeline(audio, **kwargs)
        except Exception as e:
            raise ModelError(f"pyannote diarization of {wav_path} failed: {e}") from e
        annotation, embeddings = unpack_output(output)
        return to_diarization(annotation, embeddings)

    @staticmethod
    def _audio(wav_path: Path) -> dict[str, Any]:
        """The in-memory input pyannote pipelines accept."""
        import torch

        from castgraph.ingest.audio import SAMPLE_RATE, read_audio

        waveform = torch.from_numpy(read_audio(wav_path)).unsqueeze(0)
        return {"waveform": waveform, "sample_rate": SAMPLE_RATE}


def unpack_output(output: Any) -> tuple[Any, Any]:
    """(annotation, embeddings or None) from any pyannote version's output."""
    if hasattr(output, "speaker_diarization"):
        return output.speaker_diarization, getattr(output, "speaker_embeddings", None)
    if isinstance(output, tuple) and len(output) == 2:
        return output[0], output[1]
    return output, None


def to_diarization(annotation: Any, embeddings: Any) -> Diarization:
    """Turns labelled SPEAKER_00… in order of first appearance, with normalised embeddings."""
    tracks = sorted(
        (
            (float(seg.start), float(seg.end), str(label))
            for seg, _, label in annotation.itertracks(yield_label=True)
        ),
        key=lambda t: (t[0], t[1]),
    )
    names: dict[str, str] = {}
    turns = []
    for start, end, label in tracks:
        name = names.setdefault(label, f"SPEAKER_{len(names):02d}")
        if end > start:
            turns.append(SpeakerTurn(start, end, name))
    vectors: dict[str, tuple[float, ...]] = {}
    if embeddings is not None:
        labels = [str(label) for label in annotation.labels()]
        matrix = np.asarray(embeddings, dtype=np.float64)
        if matrix.ndim == 2 and matrix.shape[0] == len(labels):
            for label, row in zip(labels, matrix, strict=True):
                norm = float(np.linalg.norm(row))
                if label in names and np.isfinite(norm) and norm > 0:
                    vectors[names[label]] = tuple(float(v) for v in row / norm)
        else:
            logger.warning("ignoring pyannote embeddings of shape %s", matrix.shape)
    return Diarization(turns=tuple(turns), embeddings=vectors)
