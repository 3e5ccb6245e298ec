"""A deterministic, model-free embedder for tests: hashed bag of folded words.

Texts that share words (after lower-casing and accent folding) share dimensions, and a short
prefix of each longer word is hashed too, so ``"ciudad"`` and ``"ciudades"`` overlap. It knows
no meaning: use it only where the test is about plumbing, not about retrieval quality.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence

from castgraph.core.errors import InputError
from castgraph.core.text import fold

_WORD = re.compile(r"\w+", re.UNICODE)
_PREFIX = 5
"""Characters of a longer word hashed as an extra, half-weight feature (a crude stem)."""
_EMPTY_FEATURE = "\x00empty"
"""Hashed for texts without words, so that every vector can be normalised."""


class HashEmbedder:
    """Feature hashing of folded words into ``dimension`` signed buckets, L2-normalised."""

    def __init__(self, dimension: int = 256) -> None:
        if dimension < 8:
            raise InputError(f"hash embedder dimension must be at least 8, got {dimension}")
        self.name = "hash"
        self.dimension = dimension

    def load(self) -> None:
        """Nothing to load."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._vector(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * self.dimension
        for feature, weight in _features(text):
            bucket, sign = self._bucket(feature)
            vector[bucket] += sign * weight
        norm = math.sqrt(sum(v * v for v in vector))
        if norm == 0.0:  # features cancelled out: fall back to the empty-text direction
            bucket, sign = self._bucket(_EMPTY_FEATURE)
            vector[bucket] = sign
            return vector
        return [v / norm for v in vector]

    def _bucket(self, feature: str) -> tuple[int, float]:
        digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
        value = int.from_bytes(digest, "little")
        # The lowest bit picks the sign so that colliding features tend to cancel, not add up.
        return (value >> 1) % self.dimension, 1.0 if value & 1 else -1.0


def _features(text: str) -> list[tuple[str, float]]:
    words = _WORD.findall(fold(text))
    if not words:
        return [(_EMPTY_FEATURE, 1.0)]
    features: list[tuple[str, float]] = []
    for word in words:
        features.append((word, 1.0))
        if len(word) > _PREFIX:
            features.append((f"{word[:_PREFIX]}~", 0.5))
    return features
