"""The flat vector index's search side: every stored vector in one in-memory matrix.

A search scores candidates exactly, by their cosine about the collection's centre: the cosine
of ``d - c`` and ``q - c`` where ``c`` is the rows' mean shrunk by ``n / (n + dimension)``.
Embeddings share a common direction (the rows' mean has length 0.4-0.7 for
``use-multilingual-v3`` on a channel), and plain cosine rewards every row for it, so rows near
the mean (the crowd of similar episodes) outrank the one that answers; centring removes what
all rows share (Mu & Viswanath 2018, "All-but-the-top"). The shrinkage keeps a small
collection's ranking near plain cosine, where the mean of a few chunks is their topics rather
than the model's bias: see docs/decisions.md, "Issue 12: cosine about the centre". Up to
``EXACT_UP_TO`` rows every row is a candidate; above it, candidates are the ``CANDIDATES``
rows whose one-bit codes (the sign of each component after subtracting the rows' mean) differ
least from the query's, and only those are scored exactly. Unlike a graph index (HNSW), a scan
of codes reaches every row, so a chunk far from the rest (a topic no other episode has) is
found as surely as one in the crowd: see docs/decisions.md, "Issue 12: a flat vector index".

A ``Matrix`` is immutable; ``refreshed`` makes the next one from rows added and removed since,
so searches in flight keep the one they started with.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import numpy.typing as npt

from castgraph.retrieval.base import SearchFilters
from castgraph.retrieval.vector.chroma import day_number  # the filters' day numbers, shared

EXACT_UP_TO = 20_000
"""Up to this many rows, every row is scored exactly (a few ms on one core)."""

CANDIDATES = 2_000
"""Rows scored exactly above ``EXACT_UP_TO``: the nearest by one-bit codes. Chosen by
recall against exact search on bench/retrieval.py's 100k index (docs/decisions.md)."""

_BLOCK = 8192  # rows a time when computing each row's distance from the centre

Floats = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Row:
    """One stored chunk as search needs it (``speakers`` case-folded)."""

    row: int
    chunk_id: str
    episode_id: str
    language: str
    speakers: tuple[str, ...]
    day: int  # YYYYMMDD, 0 when the episode has no date


@dataclass(frozen=True)
class Matrix:
    """Rows in ``rows`` order: ids, what filters read, unit vectors and their one-bit codes."""

    rows: Ints
    ids: list[str]
    episodes: npt.NDArray[np.object_]
    languages: npt.NDArray[np.object_]
    days: npt.NDArray[np.int32]
    speakers: list[tuple[str, ...]]
    vectors: Floats
    mean: Floats
    codes: npt.NDArray[np.uint64] = field(repr=False)

    @classmethod
    def empty(cls, dimension: int = 0) -> Matrix:
        return cls.of([], np.zeros((0, dimension), np.float32))

    @classmethod
    def of(cls, rows: Sequence[Row], vectors: Floats, mean: Floats | None = None) -> Matrix:
        """``rows`` with their unit ``vectors`` (one per row, in order)."""
        if mean is None:
            mean = vectors.mean(axis=0) if len(rows) else np.zeros(vectors.shape[1], np.float32)
        return cls(
            rows=np.fromiter((r.row for r in rows), np.int64, len(rows)),
            ids=[r.chunk_id for r in rows],
            episodes=np.array([r.episode_id for r in rows], dtype=object),
            languages=np.array([r.language for r in rows], dtype=object),
            days=np.fromiter((r.day for r in rows), np.int32, len(rows)),
            speakers=[r.speakers for r in rows],
            vectors=vectors,
            mean=mean.astype(np.float32),
            codes=_codes(vectors, mean),
        )

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def last_row(self) -> int:
        return int(self.rows[-1]) if len(self.rows) else 0

    def refreshed(self, live: Ints, added: Sequence[Row], vectors: Floats) -> Matrix:
        """This matrix without rows not in ``live`` (sorted), plus ``added`` (rows above
        ``last_row``) with their ``vectors``. The codes' mean is kept while the rows at most
        double, so an update costs only its own rows; past that it is computed again."""
        keep = np.isin(self.rows, live, assume_unique=True)
        if keep.all() and not added:
            return self
        new = Matrix.of(added, vectors, self.mean)
        kept = int(keep.sum())
        matrix = Matrix(
            rows=np.concatenate([self.rows[keep], new.rows]),
            ids=[i for i, k in zip(self.ids, keep, strict=True) if k] + new.ids,
            episodes=np.concatenate([self.episodes[keep], new.episodes]),
            languages=np.concatenate([self.languages[keep], new.languages]),
            days=np.concatenate([self.days[keep], new.days]),
            speakers=[s for s, k in zip(self.speakers, keep, strict=True) if k] + new.speakers,
            vectors=np.concatenate([self.vectors[keep], new.vectors]),
            mean=self.mean,
            codes=np.concatenate([self.codes[:, keep], new.codes], axis=1),
        )
        if len(matrix) > 2 * max(kept, 1) and len(matrix) > EXACT_UP_TO // 2:
            mean = matrix.vectors.mean(axis=0)
            return _with_mean(matrix, mean)
        return matrix

    def search(self, query: Floats, k: int, filters: SearchFilters) -> list[tuple[str, float]]:
        """The ``k`` rows nearest the unit vector ``query`` that pass ``filters``, nearest
        first, as (chunk id, cosine about the centre: 1.0 for the query's own vector)."""
        if not len(self) or k <= 0:
            return []
        allowed = self._allowed(filters)
        if allowed is not None and not allowed.any():
            return []
        candidates = self._candidates(query, allowed)
        scored = self.vectors if candidates is None else self.vectors[candidates]
        centred = self._centred
        offset = centred.offset(query)
        scores = centred.cosines(scored @ offset, offset, candidates)
        if candidates is None and allowed is not None:
            scores = np.where(allowed, scores, -np.inf)
        top = _top(scores, k)
        positions = candidates[top] if candidates is not None else top
        return [
            (self.ids[p], float(s))
            for p, s in zip(positions.tolist(), scores[top].tolist(), strict=True)
            if s != -np.inf
        ]

    def _candidates(self, query: Floats, allowed: npt.NDArray[np.bool_] | None) -> Ints | None:
        """Row positions to score exactly, or None for every row."""
        count = len(self) if allowed is None else int(allowed.sum())
        if len(self) <= EXACT_UP_TO or count <= CANDIDATES:
            if allowed is not None and count <= CANDIDATES:
                return np.flatnonzero(allowed)
            return None
        code = _codes(query[None, :], self.mean)[:, 0]
        distance = np.zeros(len(self), np.uint16)  # at most 65,535 bits a row
        for word, bits in zip(self.codes, code, strict=True):
            distance += np.bitwise_count(word ^ bits)
        if allowed is not None:
            distance[~allowed] = np.iinfo(np.uint16).max
        return _nearest(distance, CANDIDATES)

    def prepared(self) -> Matrix:
        """This matrix with its centre computed (90 ms at 100k rows), so that the refresh that
        made it pays for it rather than the first search."""
        _ = self._centred
        return self

    @cached_property
    def _centred(self) -> _Centre:
        """The centre and each row's terms of its cosine about it."""
        return _Centre.of(self.vectors)

    @cached_property
    def _by_speaker(self) -> dict[str, Ints]:
        """Row positions per speaker, made on the first search that filters by speaker."""
        positions: dict[str, list[int]] = {}
        for position, speakers in enumerate(self.speakers):
            for speaker in speakers:
                positions.setdefault(speaker, []).append(position)
        return {s: np.array(p, dtype=np.int64) for s, p in positions.items()}

    def _allowed(self, filters: SearchFilters) -> npt.NDArray[np.bool_] | None:
        """Which rows pass ``filters``; None when every row does."""
        if filters.empty:
            return None
        allowed = np.ones(len(self), dtype=bool)
        if filters.episode_ids:
            allowed &= np.isin(self.episodes, list(filters.episode_ids))
        if filters.languages:
            allowed &= np.isin(self.languages, list(filters.languages))
        if filters.speakers:
            speaking = np.zeros(len(self), dtype=bool)
            for speaker in {s.casefold() for s in filters.speakers}:
                speaking[self._by_speaker.get(speaker, [])] = True
            allowed &= speaking
        if filters.date_from or filters.date_to:
            allowed &= self.days > 0
            if filters.date_from:
                allowed &= self.days >= day_number(filters.date_from)
            if filters.date_to:
                allowed &= self.days <= day_number(filters.date_to)
        return allowed


@dataclass(frozen=True, slots=True)
class _Centre:
    """``centre`` (the rows' mean shrunk by ``n / (n + dimension)``) and each row's distance from
    it: a cosine about the centre is then the plain product of the rows with the query's offset
    from the centre, less one constant, over two lengths. A zero row (stored as such by a model
    that embedded nothing) gets an infinite length, so it scores 0 as under plain cosine."""

    centre: Floats
    lengths: Floats

    @classmethod
    def of(cls, vectors: Floats) -> _Centre:
        count, dimension = vectors.shape
        # A prior of ``dimension`` rows at the origin: the mean of fewer rows than dimensions
        # lies in their own span, and removing it would remove what they are about.
        mean = vectors.mean(axis=0, dtype=np.float64) if count else np.zeros(dimension)
        centre = (mean * (count / (count + dimension))).astype(np.float32)
        lengths = np.empty(count, np.float32)
        for start in range(0, count, _BLOCK):  # in blocks: no second copy of the matrix
            block = vectors[start : start + _BLOCK]
            offsets = block - centre
            distance = np.sqrt(np.einsum("ij,ij->i", offsets, offsets))
            lengths[start : start + _BLOCK] = np.where(block.any(axis=1), distance, np.inf)
        return cls(centre, lengths)

    def offset(self, query: Floats) -> Floats:
        """The query's offset from the centre (a zero query stays zero: it has no direction)."""
        shifted: Floats = query - self.centre if query.any() else query
        return shifted

    def cosines(self, products: Floats, offset: Floats, positions: Ints | None) -> Floats:
        """Cosines about the centre from the ``products`` of the rows at ``positions`` (every
        row when None) with the query's ``offset``; all 0 for a zero query."""
        length = float(np.linalg.norm(offset))
        if length == 0.0:
            return np.zeros_like(products)
        lengths = self.lengths if positions is None else self.lengths[positions]
        cosines: Floats = (products - float(self.centre @ offset)) / (lengths * length)
        return cosines


def unit(vectors: Iterable[Sequence[float]] | npt.ArrayLike) -> Floats:
    """Rows scaled to unit length (a zero row stays zero)."""
    array = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(array, axis=-1, keepdims=True)
    scaled: Floats = np.divide(array, norms, out=np.zeros_like(array), where=norms > 0)
    return scaled


def _codes(vectors: Floats, mean: Floats) -> npt.NDArray[np.uint64]:
    """One bit per component (above the mean or not), packed 64 to a word, stored word-major
    (``codes[w]`` is word ``w`` of every row): a query's distance to every row is then an XOR
    and a popcount per word over contiguous memory (5x faster than row-major here)."""
    bits = vectors > mean
    width = -(-bits.shape[1] // 64) * 64
    if width != bits.shape[1]:
        bits = np.pad(bits, ((0, 0), (0, width - bits.shape[1])))
    return np.ascontiguousarray(np.packbits(bits, axis=1).view(np.uint64).T)


def _with_mean(matrix: Matrix, mean: Floats) -> Matrix:
    mean = mean.astype(np.float32)
    return replace(matrix, mean=mean, codes=_codes(matrix.vectors, mean))


def _nearest(distance: npt.NDArray[np.uint16], count: int) -> Ints:
    """Positions of ``count`` smallest distances, in position order. Distances are small
    integers (bits), so a histogram finds the cut in one pass where a partition needs several;
    rows at the cut are taken in position order, and the result is ascending, so rows are then
    gathered in memory order (twice as fast)."""
    histogram = np.bincount(distance)
    cut = int(np.searchsorted(np.cumsum(histogram), count))
    below = np.flatnonzero(distance < cut)
    at_cut = np.flatnonzero(distance == cut)[: count - len(below)]
    return np.union1d(below, at_cut) if len(at_cut) else below


def _top(scores: Floats, k: int) -> Ints:
    """Positions of the ``k`` highest scores, highest first."""
    if k < len(scores):
        part = np.argpartition(-scores, k)[:k]
        return part[np.argsort(-scores[part], kind="stable")]
    return np.argsort(-scores, kind="stable")
