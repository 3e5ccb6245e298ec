"""Optional cross-encoder reranking of the fused candidates (sentence-transformers CrossEncoder)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from castgraph.core.errors import DependencyError, ModelError


class Reranker(Protocol):
    """Scores (query, passage) pairs; higher is more relevant."""

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        """One relevance score per passage."""
        ...


def installed_reranker(models_dir: Path) -> str | None:
    """The model installed under ``models_dir/rerankers/`` (the first by name), if any."""
    folder = models_dir / "rerankers"
    if not folder.is_dir():
        return None
    names = sorted(p.name for p in folder.iterdir() if (p / "config.json").is_file())
    return names[0] if names else None


class CrossEncoderReranker:
    """A sentence-transformers cross-encoder, by name or local path (e.g. a multilingual
    ``cross-encoder/mmarco-mMiniLMv2-L12-H384-v1``); loaded on first use."""

    def __init__(self, model: str, *, models_dir: Path | None = None, device: str = "cpu") -> None:
        self._model_name = model
        self._models_dir = models_dir
        self._device = device
        self._model: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the model (local ``models_dir/rerankers/<name>`` first, then the hub)."""
        if self._model is not None:
            return
        try:
            from sentence_transformers import CrossEncoder
        except ImportError as exc:
            raise DependencyError("sentence-transformers") from exc
        local = self._models_dir / "rerankers" / self._model_name if self._models_dir else None
        source = str(local) if local is not None and local.is_dir() else self._model_name
        try:
            self._model = CrossEncoder(source, device=self._device)
        except Exception as exc:  # hub, file and format errors all mean "no usable model"
            raise ModelError(
                f"cannot load the reranker {self._model_name!r}: {exc}; check the name, put the "
                "model in the models directory, or unset CASTGRAPH_RERANK_MODEL"
            ) from exc

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        with self._lock:
            self.load()
            scores = self._model.predict([(query, p) for p in passages])
        return [float(s) for s in scores]
