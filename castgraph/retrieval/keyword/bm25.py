"""BM25 exactly as SQLite FTS5's ``bm25()`` computes it, for re-scoring a candidate pool.

FTS5 scores every row a MATCH finds, so a query term that occurs in half the chunks costs a
full pass over half the index. The index therefore asks FTS5 only for the rarer terms (the ones
that decide the ranking) and re-scores that pool here with every term, using the same formula
and the same statistics, so scores from either path are comparable.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

K1 = 1.2
B = 0.75


def idf(df: int, n_docs: int) -> float:
    """FTS5's inverse document frequency (never below 1e-6, as in ``fts5_aux.c``)."""
    value = math.log((n_docs - df + 0.5) / (df + 0.5))
    return value if value > 0.0 else 1e-6


def score(tf: Mapping[str, int], length: int, weights: Mapping[str, float], avgdl: float) -> float:
    """BM25 of one document from its term counts ``tf`` and its length in terms.

    ``weights`` maps each query term to its idf. Higher is better (FTS5's ``bm25()`` returns
    the negation).
    """
    norm = K1 * (1.0 - B + B * length / avgdl) if avgdl > 0 else K1
    total = 0.0
    for term, weight in weights.items():
        f = tf.get(term, 0)
        if f:
            total += weight * f * (K1 + 1.0) / (f + norm)
    return total


def term_counts(doc: str, terms: Iterable[str]) -> tuple[dict[str, int], int]:
    """Occurrences of each of ``terms`` in ``doc`` (terms separated by single spaces) and its
    length in terms.
    """
    # Doubling the separators lets str.count (C speed, non-overlapping) see adjacent repeats.
    padded = " " + doc.replace(" ", "  ") + " "
    counts = {t: padded.count(f" {t} ") for t in terms}
    return counts, (doc.count(" ") + 1 if doc else 0)


def candidate_terms(terms: Sequence[str], df: Mapping[str, int], budget: int) -> list[str]:
    """The rarest ``terms`` whose document frequencies add up to at most ``budget``.

    At least one term is always kept. Dropped terms are the most common ones, whose idf (hence
    weight in the final ranking) is the smallest.
    """
    chosen: list[str] = []
    total = 0
    for term in sorted(terms, key=lambda t: df.get(t, 0)):
        total += df.get(term, 0)
        if chosen and total > budget:
            break
        chosen.append(term)
    return chosen
