"""Speech recognition backends behind the ``Transcriber`` port, chosen by name."""

from __future__ import annotations

from pathlib import Path

from castgraph.core.errors import InputError
from castgraph.core.ports import Transcriber
from castgraph.core.settings import TranscriberName

__all__ = ["make_transcriber"]


def make_transcriber(
    name: TranscriberName,
    *,
    model: str,
    models_dir: Path,
    device: str = "cpu",
    compute_type: str = "int8",
    beam_size: int = 5,
    cpu_threads: int = 0,
    batch_size: int = 0,
) -> Transcriber:
    """The backend called ``name``, not loaded yet (call ``load()``); imports it lazily.

    ``compute_type`` applies to faster-whisper; openai-whisper runs float32 on CPU and float16
    on GPU. ``cpu_threads=0`` means one thread per core. ``batch_size`` > 0 runs faster-whisper's
    batched pipeline (windows decoded together: the GPU's way).
    """
    if name == "faster-whisper":
        from castgraph.ingest.transcribe.faster_whisper import FasterWhisperTranscriber

        return FasterWhisperTranscriber(
            model=model,
            models_dir=models_dir,
            device=device,
            compute_type=compute_type,
            beam_size=beam_size,
            cpu_threads=cpu_threads,
            batch_size=batch_size,
        )
    if name == "openai-whisper":
        from castgraph.ingest.transcribe.openai_whisper import OpenAIWhisperTranscriber

        return OpenAIWhisperTranscriber(
            model=model,
            models_dir=models_dir,
            device=device,
            beam_size=beam_size,
            cpu_threads=cpu_threads,
        )
    raise InputError(f"unknown transcriber {name!r}: choose faster-whisper or openai-whisper")
