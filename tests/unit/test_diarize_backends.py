"""The diarizer factory and the pyannote backend, with a fake pipeline (no pyannote needed)."""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from castgraph.core.errors import DependencyError, ModelError
from castgraph.ingest.diarize import make_diarizer, missing_dependency
from castgraph.ingest.diarize.embedding import DiarizerOptions, EmbeddingDiarizer, build_turns
from castgraph.ingest.diarize.pyannote import PyannoteDiarizer, to_diarization, unpack_output


@dataclass
class _Segment:
    start: float
    end: float


class _Annotation:
    """The slice of pyannote.core.Annotation the backend uses."""

    def __init__(self, tracks: list[tuple[float, float, str]]) -> None:
        self.tracks = tracks

    def itertracks(self, yield_label: bool = False) -> Iterator[tuple[_Segment, str, str]]:
        for i, (start, end, label) in enumerate(self.tracks):
            yield _Segment(start, end), f"t{i}", label

    def labels(self) -> list[str]:
        return sorted({label for _, _, label in self.tracks})


TRACKS = [(5.0, 7.0, "SPEAKER_00"), (0.5, 4.0, "SPEAKER_01"), (7.5, 9.0, "SPEAKER_01")]


class _Pipeline:
    """Records its calls; returns what pyannote 3.1 returns with return_embeddings=True."""

    def __init__(self, embeddings: bool = True) -> None:
        self.calls: list[dict[str, Any]] = []
        self.embeddings = embeddings

    def __call__(self, audio: dict[str, Any], **kwargs: Any) -> Any:
        if "return_embeddings" in kwargs and not self.embeddings:
            raise TypeError("unexpected keyword argument 'return_embeddings'")
        self.calls.append({"audio": audio, **kwargs})
        annotation = _Annotation(TRACKS)
        if kwargs.get("return_embeddings"):
            return annotation, np.array([[3.0, 4.0], [0.0, 2.0]])
        return annotation


@pytest.fixture
def wav(tmp_path: Path) -> Path:
    import soundfile as sf

    path = tmp_path / "a.wav"
    sf.write(str(path), np.zeros(16000, dtype=np.float32), 16000)
    return path


def test_factory_builds_backends_without_loading(tmp_path: Path) -> None:
    assert make_diarizer("none", models_dir=tmp_path) is None
    emb = make_diarizer("embedding", models_dir=tmp_path, max_speakers=3)
    assert isinstance(emb, EmbeddingDiarizer)
    assert emb.clustering.max_speakers == 3 and emb._encoder is None
    pya = make_diarizer("pyannote", models_dir=tmp_path, pyannote_pipeline="/x", hf_token="t")
    assert isinstance(pya, PyannoteDiarizer) and pya._pipeline is None
    with pytest.raises(Exception, match="unknown diarizer"):
        make_diarizer("other", models_dir=tmp_path)  # type: ignore[arg-type]


def test_missing_dependency_message_names_the_command() -> None:
    error = missing_dependency("resemblyzer", "pip install --no-deps resemblyzer==0.1.4")
    assert isinstance(error, DependencyError)
    assert "pip install --no-deps resemblyzer==0.1.4" in str(error)


def test_pyannote_turns_labels_and_embeddings(wav: Path) -> None:
    pipeline = _Pipeline()
    diarizer = PyannoteDiarizer("local", None, loader=lambda name, token: pipeline)
    result = diarizer.diarize(wav, num_speakers=2)
    assert [(t.start, t.speaker) for t in result.turns] == [
        (0.5, "SPEAKER_00"),
        (5.0, "SPEAKER_01"),
        (7.5, "SPEAKER_00"),
    ]
    # pyannote's SPEAKER_01 spoke first, so it becomes SPEAKER_00; embeddings follow it
    assert result.embeddings["SPEAKER_00"] == pytest.approx((0.0, 1.0))
    assert result.embeddings["SPEAKER_01"] == pytest.approx((0.6, 0.8))
    call = pipeline.calls[0]
    assert call["num_speakers"] == 2 and call["audio"]["sample_rate"] == 16000
    assert tuple(call["audio"]["waveform"].shape) == (1, 16000)


def test_pyannote_without_embeddings_and_with_max_speakers(wav: Path) -> None:
    pipeline = _Pipeline(embeddings=False)
    diarizer = PyannoteDiarizer("x", "tok", max_speakers=4, loader=lambda n, t: pipeline)
    result = diarizer.diarize(wav)
    assert result.embeddings == {} and len(result.turns) == 3
    assert pipeline.calls[0]["max_speakers"] == 4


def test_pyannote_4_output_object() -> None:
    @dataclass
    class Output:
        speaker_diarization: Any
        speaker_embeddings: Any

    annotation = _Annotation(TRACKS)
    out = Output(annotation, np.array([[1.0, 0.0], [np.nan, np.nan]]))
    got_annotation, got_embeddings = unpack_output(out)
    assert got_annotation is annotation
    result = to_diarization(got_annotation, got_embeddings)
    assert set(result.embeddings) == {"SPEAKER_01"}  # the NaN row is dropped
    assert unpack_output(annotation) == (annotation, None)


def test_pyannote_load_errors() -> None:
    refused = PyannoteDiarizer("pyannote/x", None, loader=lambda n, t: None)
    with pytest.raises(ModelError, match="CASTGRAPH_HF_TOKEN"):
        refused.load()

    def broken(name: str, token: str | None) -> Any:
        raise OSError("no such file")

    with pytest.raises(ModelError, match="no such file"):
        PyannoteDiarizer("/nowhere", None, loader=broken).load()


def test_pyannote_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("pyannote"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(DependencyError, match=r"castgraph\[pyannote\]"):
        PyannoteDiarizer("pyannote/speaker-diarization-3.1", None).load()


def test_embedding_diarizer_missing_resemblyzer(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("resemblyzer"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(DependencyError, match=r"--no-deps resemblyzer==0\.1\.4"):
        EmbeddingDiarizer(None).load()


def test_build_turns_merges_bridges_and_fills() -> None:
    spans = np.array([[0.0, 1.5], [0.25, 1.75], [0.5, 2.0], [3.0, 4.5], [6.0, 7.5]])
    region_of = np.array([0, 0, 0, 1, 2])
    regions = [(0.0, 2.0), (2.8, 4.5), (4.9, 7.5)]
    labels = np.array([0, 0, 0, 0, 1])
    turns = build_turns(spans, labels, region_of, regions, DiarizerOptions())
    # 2.0 -> 2.8 is a same-speaker pause (bridged); 4.5 -> 4.9 a change (split in the middle)
    assert turns == [(0.0, 4.7, 0), (4.7, 7.5, 1)]
