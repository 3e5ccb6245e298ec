"""Speech recognition with openai-whisper (PyTorch), offline from a converted local checkpoint."""

from __future__ import annotations

import importlib
import logging
import threading
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from castgraph.core.errors import DependencyError, InputError, ModelError
from castgraph.core.models import Segment, Transcript, Word
from castgraph.core.ports import ProgressCallback
from castgraph.ingest.audio import SAMPLE_RATE
from castgraph.ingest.audio import read_audio as load_audio
from castgraph.ingest.transcribe._audio import (
    Audio,
    clean_word,
    is_silent,
    prompt_text,
    thread_count,
)
from castgraph.ingest.vad import speech_regions

logger = logging.getLogger(__name__)

_HOOK_LOCK = threading.Lock()


def _import_whisper() -> tuple[Any, Any]:
    try:
        import torch
        import whisper
    except ImportError as e:
        raise DependencyError("openai-whisper", "openai-whisper") from e
    return whisper, torch


class OpenAIWhisperTranscriber:
    """openai-whisper with word timestamps; its checkpoint converted from the local CTranslate2
    weights when available (``<models_dir>/openai-whisper/<model>.pt``), else downloaded."""

    def __init__(
        self,
        *,
        model: str,
        models_dir: Path,
        device: str = "cpu",
        beam_size: int = 5,
        cpu_threads: int = 0,
    ) -> None:
        self.model_name = model
        self.models_dir = models_dir
        self.device = device
        self.beam_size = beam_size
        self.cpu_threads = thread_count(cpu_threads)
        self._model: Any = None

    def load(self) -> None:
        """Resolve (converting if needed) and load the checkpoint; idempotent."""
        if self._model is not None:
            return
        whisper, torch = _import_whisper()
        from castgraph.modelfiles import resolve_openai_whisper

        if self.device == "cpu":
            torch.set_num_threads(self.cpu_threads)
        where = resolve_openai_whisper(self.model_name, self.models_dir)
        logger.info("loading openai-whisper model %s on %s", where, self.device)
        try:
            if Path(where).is_file():
                self._model = _load_checkpoint(whisper, torch, Path(where), self.device)
            else:
                self._model = whisper.load_model(
                    where, device=self.device, download_root=str(self.models_dir / "openai-whisper")
                )
        except (OSError, RuntimeError, KeyError, ValueError) as e:
            raise ModelError(
                f"cannot load openai-whisper model {self.model_name!r} from {where}: {e}; "
                "install the offline models with  castgraph models install"
            ) from e

    def transcribe(
        self,
        wav_path: Path,
        *,
        language: str | None = None,
        progress: ProgressCallback | None = None,
        hints: Sequence[str] = (),
    ) -> Transcript:
        """Transcribe ``wav_path``; an empty transcript when it holds no speech.

        ``hints`` (names likely said) become the initial prompt (openai-whisper has no hotwords).
        """
        self.load()
        audio = load_audio(wav_path)
        duration = audio.size / SAMPLE_RATE
        spans = [] if is_silent(audio) else _speech_or_all(audio, duration)
        if not spans:
            return Transcript(language=language or "", segments=(), duration=duration)
        probability = 1.0
        if language is None:
            language, probability = self._detect_language(audio, spans[0][0])
        else:
            language = self._check_language(language)
        try:
            with _progress_hook(progress, duration):
                result = self._model.transcribe(
                    audio,
                    language=language,
                    beam_size=self.beam_size,
                    word_timestamps=True,
                    fp16=self.device != "cpu",
                    verbose=None,
                    initial_prompt=prompt_text(hints),
                )
        except RuntimeError as e:
            raise ModelError(f"openai-whisper failed on {wav_path}: {e}") from e
        if progress is not None:
            progress(duration, duration)
        segments = tuple(s for s in (_segment(raw) for raw in result["segments"]) if s is not None)
        return Transcript(
            language=language,
            segments=segments,
            duration=duration,
            language_probability=probability,
        )

    def _check_language(self, language: str) -> str:
        from whisper.tokenizer import LANGUAGES, TO_LANGUAGE_CODE

        code = language.lower()
        code = TO_LANGUAGE_CODE.get(code, code)
        if code not in LANGUAGES:
            raise InputError(f"openai-whisper does not know the language {language!r}")
        return str(code)

    def _detect_language(self, audio: Audio, speech_start: float) -> tuple[str, float]:
        """Detect the language on the 30 s from the first speech (like faster-whisper's VAD)."""
        if not self._model.is_multilingual:
            return "en", 1.0
        import whisper

        window = whisper.pad_or_trim(audio[int(speech_start * SAMPLE_RATE) :])
        mel = whisper.log_mel_spectrogram(window, n_mels=self._model.dims.n_mels)
        _, probs = self._model.detect_language(mel.to(self._model.device))
        best = max(probs, key=probs.get)
        return str(best), float(probs[best])


def _load_checkpoint(whisper: Any, torch: Any, path: Path, device: str) -> Any:
    """Load a checkpoint as ``whisper.load_model`` does, plus its recorded alignment heads."""
    from whisper.model import ModelDimensions, Whisper

    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    model = Whisper(ModelDimensions(**checkpoint["dims"]))
    model.load_state_dict(checkpoint["model_state_dict"])
    heads = checkpoint.get("alignment_heads")
    if heads is None:
        heads = getattr(whisper, "_ALIGNMENT_HEADS", {}).get(path.stem)
    if heads is not None:
        model.set_alignment_heads(heads.encode("ascii") if isinstance(heads, str) else heads)
    return model.to(device)


def _speech_or_all(audio: Audio, duration: float) -> list[tuple[float, float]]:
    """Silero speech spans when faster-whisper's VAD is importable, else the whole file."""
    try:  # faster-whisper's own VAD defaults, so both backends hear the same speech
        return speech_regions(audio, threshold=0.5, min_speech=0.0, min_silence=2.0, pad=0.4)
    except DependencyError:
        return [(0.0, duration)]


def _segment(raw: dict[str, Any]) -> Segment | None:
    words = tuple(
        Word(
            text=clean_word(w["word"]),
            start=float(w["start"]),
            end=float(w["end"]),
            probability=float(w["probability"]),
        )
        for w in raw.get("words", ())
        if clean_word(w["word"])
    )
    text = str(raw["text"]).strip()
    if not text and not words:
        return None
    return Segment(start=float(raw["start"]), end=float(raw["end"]), text=text, words=words)


class _FrameProgress:
    """Stands in for ``tqdm.tqdm`` inside whisper's transcribe loop; reports seconds done."""

    def __init__(self, callback: ProgressCallback, total_seconds: float) -> None:
        self.callback = callback
        self.total_seconds = total_seconds
        self.frames = 0

    def __call__(self, *args: Any, **kwargs: Any) -> _FrameProgress:
        return self

    def __enter__(self) -> _FrameProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, frames: int) -> None:
        from whisper.audio import FRAMES_PER_SECOND

        self.frames += int(frames)
        self.callback(min(self.frames / FRAMES_PER_SECOND, self.total_seconds), self.total_seconds)


@contextmanager
def _progress_hook(callback: ProgressCallback | None, duration: float) -> Iterator[None]:
    """Route whisper's progress bar to ``callback`` for the duration of one transcription."""
    namespace = vars(importlib.import_module("whisper.transcribe"))
    if callback is None or "tqdm" not in namespace:
        yield
        return
    with _HOOK_LOCK:
        original = namespace["tqdm"]  # the module's ``import tqdm``
        namespace["tqdm"] = types.SimpleNamespace(tqdm=_FrameProgress(callback, duration))
        try:
            yield
        finally:
            namespace["tqdm"] = original
