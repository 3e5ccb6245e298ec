"""Vectors of short texts (words, a question's n-grams), embedded once and kept in an LRU cache.

A channel's vocabulary recurs across questions, so answering and entity linking ask the model
only for texts they have not met lately; the cache is bounded and shared by the requests a
server answers at once (it is locked, the embedding is not).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

import numpy as np


class TextsEmbedder(Protocol):
    """What the cache needs: L2-normalised vectors of texts (``Embedder.embed``)."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class TextVectors:
    """The vectors of texts, each embedded once while it stays among the ``size`` most
    recently used."""

    def __init__(self, embedder: TextsEmbedder, size: int) -> None:
        self._embedder = embedder
        self._size = size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many texts' vectors are kept."""
        return len(self._cache)

    def matrix(self, texts: Sequence[str]) -> np.ndarray:
        """One float32 row per text, in order (rows as the embedder gave them)."""
        unique = list(dict.fromkeys(texts))
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for text in unique:
                if text in self._cache:
                    self._cache.move_to_end(text)
                    found[text] = self._cache[text]
        missing = [t for t in unique if t not in found]
        if missing:
            vectors = self._embedder.embed(missing)
            fresh = {
                t: np.asarray(v, dtype=np.float32) for t, v in zip(missing, vectors, strict=True)
            }
            found.update(fresh)
            with self._lock:
                self._cache.update(fresh)
                while len(self._cache) > self._size:
                    self._cache.popitem(last=False)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.vstack([found[t] for t in texts])
