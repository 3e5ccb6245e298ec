"""Graph search's per-version working set: postings as arrays of chunk numbers, neighbour shares.

Scoring thousands of mentions one Python object at a time made graph search the costliest
retriever on large channels (about 20 ms of a 60 ms search at 100k chunks, all of it holding
the GIL that the other retrievers and requests need). Here each entity's postings are read once
per graph version and kept as an array of chunk numbers, so a search scores its candidates
with a few ``numpy.bincount`` calls; only the few best (and their ties) become Python tuples.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from castgraph.retrieval.graph.base import EdgeWeightReader, GraphChunk, GraphSearchReader
from castgraph.retrieval.graph.linking import EntityIndex

MAX_CACHED = 2_000_000
"""Postings plus neighbour pairs one cache may hold (about 40 MB) before it starts again."""


class SearchCache:
    """What graph search read from one graph version, by entity key; shared between threads.

    Entries are only added; chunk numbers are handed out under a lock, so every thread sees the
    same number for a chunk. A full cache is replaced whole by the retriever (``full``).
    """

    def __init__(self, index: EntityIndex) -> None:
        self.index = index
        self.chunks: list[GraphChunk] = []
        self._number: dict[str, int] = {}
        self._postings: dict[str, np.ndarray] = {}
        self._neighbours: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.keys: list[str] = []  # entity numbers, handed out in the order neighbours are met
        self._entity: dict[str, int] = {}
        self._size = 0
        self._lock = threading.Lock()

    @property
    def full(self) -> bool:
        return self._size > MAX_CACHED

    @property
    def half_full(self) -> bool:
        return self._size > MAX_CACHED // 2

    def postings(self, store: GraphSearchReader, keys: Sequence[str]) -> list[np.ndarray]:
        """Per key, the numbers of the chunks that mention it (each chunk once)."""
        missing = [key for key in dict.fromkeys(keys) if key not in self._postings]
        if missing:
            grouped: dict[str, dict[int, None]] = {key: {} for key in missing}
            mentions = store.mentions(missing)
            with self._lock:
                for mention in mentions:
                    number = self._number.get(mention.chunk.id)
                    if number is None:
                        number = self._number[mention.chunk.id] = len(self.chunks)
                        self.chunks.append(mention.chunk)
                    grouped[mention.entity_key][number] = None
                for key, numbers in grouped.items():
                    self._postings[key] = np.fromiter(numbers, dtype=np.int64, count=len(numbers))
                    self._size += len(numbers) + 1
        return [self._postings[key] for key in keys]

    def number(self, key: str) -> int:
        """``key``'s entity number in this cache (the same for every thread)."""
        found = self._entity.get(key)
        if found is None:
            with self._lock:
                found = self._entity.setdefault(key, len(self.keys))
                if found == len(self.keys):
                    self.keys.append(key)
        return found

    def neighbours(
        self, store: GraphSearchReader, key: str, budget: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """``key``'s neighbours (entity numbers) with their shares of its relations: the weights
        to each over ``key``'s strongest relation, summed over relation types. Hubs (more
        mentions than ``budget``) are left out: graph search never expands into them."""
        found = self._neighbours.get(key)
        if found is not None:
            return found
        edges = _edges(store, key)
        strongest = max((weight for _, weight in edges), default=0.0)
        shares: dict[str, float] = defaultdict(float)
        by_key = self.index.by_key
        for there, weight in edges if strongest > 0 else ():
            if there != key and there in by_key and by_key[there].mentions <= budget:
                shares[there] += weight / strongest
        numbers = np.fromiter((self.number(k) for k in shares), dtype=np.int64, count=len(shares))
        found = (numbers, np.fromiter(shares.values(), dtype=np.float64, count=len(shares)))
        with self._lock:
            self._neighbours[key] = found
            self._size += len(shares) + 1
        return found


def _edges(store: GraphSearchReader, key: str) -> list[tuple[str, float]]:
    """(other end, weight) of each RELATED edge touching ``key``."""
    if isinstance(store, EdgeWeightReader):
        return [(other, weight) for other, _, weight in store.edge_weights(key)]
    facts = store.relations([key])
    return [(f.target_key if f.source_key == key else f.source_key, f.weight) for f in facts]


def weighted_counts(
    arrays: Sequence[np.ndarray], weights: Sequence[float], size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per chunk number below ``size``: the sum of the weights of the arrays it is in, and how
    many arrays it is in (arrays and their mentions summed in the order given)."""
    if not arrays:
        return np.zeros(size), np.zeros(size, dtype=np.int64)
    ids = np.concatenate(arrays)
    each = np.repeat(np.asarray(weights, dtype=np.float64), [len(a) for a in arrays])
    return np.bincount(ids, weights=each, minlength=size), np.bincount(ids, minlength=size)


def best(
    scores: np.ndarray, candidates: np.ndarray, chunks: Sequence[GraphChunk], k: int
) -> list[tuple[float, str]]:
    """The ``k`` best (score, chunk id) among ``candidates``, ties by episode, ordinal and id."""
    values = scores[candidates]
    if len(candidates) > k:
        # Everything scoring at least the k-th best, ties included: only these are sorted.
        threshold = np.partition(values, len(values) - k)[len(values) - k]
        keep = values >= threshold
        candidates, values = candidates[keep], values[keep]
    ranked = sorted(
        (-float(s), chunks[n].episode_id, chunks[n].ordinal, chunks[n].id)
        for n, s in zip(candidates.tolist(), values.tolist(), strict=True)
    )
    return [(-score, cid) for score, _, _, cid in ranked[:k]]


def strongest(
    numbers: np.ndarray, weights: np.ndarray, keys: Sequence[str], reached: set[str], n: int
) -> dict[str, float]:
    """The ``n`` heaviest entities (by ``weights`` summed per entity number, in the order
    given; ties by key) that are not in ``reached``; every entity met joins ``reached``."""
    if not len(numbers):
        return {}
    sums = np.bincount(numbers, weights=weights)
    met = np.flatnonzero(np.bincount(numbers))
    fresh = [keys[i] not in reached for i in met.tolist()]
    reached.update(keys[i] for i in met.tolist())
    met = met[fresh]
    values = sums[met]
    if len(met) > n:  # everything at least as heavy as the n-th, ties included, is sorted
        threshold = np.partition(values, len(values) - n)[len(values) - n]
        met, values = met[values >= threshold], values[values >= threshold]
    ranked = sorted(zip((-values).tolist(), (keys[i] for i in met.tolist()), strict=True))
    return {key: -weight for weight, key in ranked[:n]}
