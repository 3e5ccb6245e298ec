"""What every castgraph embedder offers beyond the core ``Embedder`` port, and shared helpers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol, TypeVar

import numpy as np

from castgraph.core.errors import ModelError
from castgraph.core.ports import Embedder

T = TypeVar("T")


class TextEmbedder(Embedder, Protocol):
    """An ``Embedder`` with a name, a dimension and a separate query side.

    ``embed(texts)`` embeds *passages* (the chunks that get indexed); ``embed_query(text)``
    embeds a search query. Asymmetric models (e5: ``"query: "`` / ``"passage: "``) prefix the two
    sides differently; symmetric ones embed both alike. Vectors are L2-normalised, so a dot
    product is the cosine similarity. Every method is safe to call from several threads.
    """

    @property
    def name(self) -> str:
        """Stable model name; vector collections are keyed on it, so it never names a path
        that changes between machines when a packaged model is used."""
        ...

    @property
    def dimension(self) -> int:
        """Vector length (may load the model to find out)."""
        ...

    def load(self) -> None:
        """Load model files now instead of on the first call; idempotent."""
        ...

    def embed_query(self, text: str) -> list[float]:
        """One vector for a search query."""
        ...


def normalised_rows(matrix: Any, *, expected: int | None = None) -> list[list[float]]:
    """L2-normalise each row of a 2-D array-like and return plain Python floats.

    Rows of zeros stay zero (no model output should be one, but NaNs would poison an index).
    """
    array = np.asarray(matrix, dtype=np.float64)
    if array.ndim != 2 or (expected is not None and array.shape[0] != expected):
        raise ModelError(f"embedding model returned an array of shape {array.shape}")
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    norms[norms == 0.0] = 1.0
    result: list[list[float]] = (array / norms).tolist()
    return result


def batched(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` items."""
    step = max(1, size)
    for start in range(0, len(items), step):
        yield items[start : start + step]


def one_blas_thread() -> None:
    """Limit BLAS (numpy's OpenBLAS) to one thread in this process, from now on.

    For a process that serves searches: a query's matrices are tiny, so a second BLAS thread
    only adds synchronisation, and on a busy machine its spinning waits for a core made a query
    vector cost 10 ms instead of 2-5. Concurrency comes from the requests, one thread each.
    Passage batches still ask for their own limit while they run (``UniversalSentenceEncoder``).
    """
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
    except ImportError:  # without threadpoolctl numpy keeps its default
        return
    threadpool_limits(limits=1, user_api="blas")
