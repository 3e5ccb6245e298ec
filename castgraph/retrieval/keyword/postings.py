"""BM25 on arrays: unfiltered keyword search from cached postings, ranked as FTS5 ranks.

Why: FTS5 scores every posting of every query term through ``bm25()`` on every query; at 100k
chunks that cost 8–12 ms of CPU per query even with only the rarer terms ranked (and the rest
re-scored in Python), more than the vector retriever. A term's postings change only when the
index is written, so each term's (rowid, frequency) pairs are read once per index *generation*
(a counter every write transaction bumps) from an ``fts5vocab`` table and kept as numpy arrays;
a query is then a few vectorised operations per term.

The score is FTS5's ``bm25()`` (see ``bm25``) with every query term, summed in the same order
with the same statistics (``totals``, the documents' sizes from FTS5's own ``docsize`` table),
so the ranking is the one FTS5 gives when it ranks every term; ties go to the lower rowid, as in
``rank_sql``. Everything a query reads (generation, sizes, postings) comes from one read
transaction, so it never mixes two states of the file.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from castgraph.retrieval.keyword import bm25

VOCAB = "castgraph_vocab"
CREATE_VOCAB = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{VOCAB} USING fts5vocab(main, chunk_terms, instance)"
)
"""Run on every connection before ``query_only`` (a temp table is still a write)."""
BUMP_GENERATION = (
    "INSERT INTO meta (key, value) VALUES ('generation', '1') ON CONFLICT (key)"
    " DO UPDATE SET value = CAST(value AS INTEGER) + 1"
)
"""Run inside every write transaction of the keyword index."""
MAX_POSTINGS = 12_000_000
"""Postings kept per generation (12 bytes each); least recently used terms go first."""


@dataclass(slots=True)
class _Generation:
    """One state of the index: documents' length norms by rowid and the postings read so far."""

    number: int
    docs: int
    norms: np.ndarray  # K1 * (1 - B + B * length / avgdl), by rowid
    # term -> (rowids, what the term adds to each one's score)
    postings: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=OrderedDict)
    size: int = 0


class PostingsScorer:
    """Ranks whole-index BM25 from postings cached per generation; safe to share by threads
    (each passes its own connection)."""

    def __init__(self, max_postings: int = MAX_POSTINGS) -> None:
        self.max_postings = max_postings
        self._current: _Generation | None = None
        self._lock = threading.Lock()

    def search(
        self, conn: sqlite3.Connection, terms: Sequence[str], k: int
    ) -> list[tuple[int, float]]:
        """(rowid, score) of the ``k`` best documents for ``terms``, best first."""
        conn.execute("BEGIN")
        try:
            generation = self._generation(conn)
            postings = [self._postings(conn, generation, term) for term in terms]
        finally:
            _end_read(conn)
        return _ranked(generation, postings, k)

    def warm(self, conn: sqlite3.Connection) -> int:
        """Read the postings of the most frequent terms (the costly ones to read) until half of
        ``max_postings`` are held, so that a restarted server's first searches cost what later
        ones do; returns the postings held. Writes later start the cache again."""
        conn.execute("BEGIN")
        try:
            generation = self._generation(conn)
            terms = [str(t) for (t,) in conn.execute("SELECT term FROM term_df ORDER BY df DESC")]
            for term in terms:
                if generation.size >= self.max_postings // 2:
                    break
                self._postings(conn, generation, term)
            return generation.size
        finally:
            _end_read(conn)

    def _generation(self, conn: sqlite3.Connection) -> _Generation:
        row = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        number = int(str(row[0])) if row else 0
        current = self._current
        if current is not None and current.number == number:
            return current
        docs, tokens = conn.execute("SELECT docs, tokens FROM totals").fetchone()
        lengths = _lengths(conn)
        avgdl = tokens / docs if docs else 0.0
        if avgdl > 0:
            norms = bm25.K1 * (1.0 - bm25.B + bm25.B * lengths / avgdl)
        else:
            norms = np.full(len(lengths), bm25.K1)
        fresh = _Generation(number, int(docs), norms)
        with self._lock:
            self._current = fresh
        return fresh

    def _postings(
        self, conn: sqlite3.Connection, generation: _Generation, term: str
    ) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            found = generation.postings.get(term)
            if found is not None:
                generation.postings.move_to_end(term)
                return found
        sql = f"SELECT doc, count(*) FROM temp.{VOCAB} WHERE term = ? GROUP BY doc"
        rows = conn.execute(sql, (term,)).fetchall()
        pairs = np.asarray(rows, dtype=np.int64).reshape(-1, 2)
        rids, tf = pairs[:, 0].astype(np.int32), pairs[:, 1].astype(np.float64)
        # What the term adds to each document's score depends only on the generation.
        weight = bm25.idf(len(rids), generation.docs)
        found = (rids, weight * ((tf * (bm25.K1 + 1.0)) / (tf + generation.norms[rids])))
        with self._lock:  # another thread may have read it meanwhile: the same arrays
            if term not in generation.postings:
                generation.postings[term] = found
                generation.size += len(found[0])
            while generation.size > self.max_postings and len(generation.postings) > 1:
                _, (rids, _) = generation.postings.popitem(last=False)
                generation.size -= len(rids)
        return found


def _end_read(conn: sqlite3.Connection) -> None:
    """End a read transaction, so that a failure never leaves this thread's connection in
    one (its next ``BEGIN`` would fail, and it would pin an old snapshot of the file)."""
    try:
        conn.execute("COMMIT")
    except sqlite3.Error:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _lengths(conn: sqlite3.Connection) -> np.ndarray:
    """Each document's size in terms, by rowid (FTS5's ``docsize`` table: one varint per
    column, and the index has one column)."""
    rows = conn.execute("SELECT id, sz FROM chunk_terms_docsize").fetchall()
    top = max((int(rid) for rid, _ in rows), default=-1)
    lengths = np.zeros(top + 1, dtype=np.float64)
    for rid, size in rows:
        lengths[int(rid)] = _varint(bytes(size))
    return lengths


def _varint(data: bytes) -> int:
    """SQLite's big-endian base-128 varint at the start of ``data`` (9th byte: 8 bits)."""
    value = 0
    for i, byte in enumerate(data[:9]):
        if i == 8:
            return (value << 8) | byte
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            break
    return value


def _ranked(
    generation: _Generation, postings: Sequence[tuple[np.ndarray, np.ndarray]], k: int
) -> list[tuple[int, float]]:
    """BM25 of every document some term occurs in, the ``k`` best (ties: lower rowid first)."""
    scores = np.zeros(len(generation.norms), dtype=np.float64)
    for rids, contributions in postings:  # in query order: the order FTS5 sums its phrases in
        scores[rids] += contributions
    candidates = np.flatnonzero(scores)
    if len(candidates) > k:
        kth = np.partition(scores[candidates], len(candidates) - k)[len(candidates) - k]
        candidates = candidates[scores[candidates] >= kth]  # every tie of the k-th stays
    order = np.lexsort((candidates, -scores[candidates]))[:k]
    return [(int(candidates[i]), float(scores[candidates[i]])) for i in order]
