"""Reciprocal rank fusion: one ranking from several, robust to incomparable scores.

The constant ``k`` decides how deep an agreement may be and still beat a first place: a chunk
that two retrievers both rank ``r`` outscores another retriever's first hit exactly when
``2 / (k + r) > 1 / (k + 1)``, that is ``r < k + 2``. The usual ``k = 60`` (tuned for fusing
deep TREC runs of many systems) lets agreement anywhere in the 50 candidates a retriever
returns win; beside thousands of other episodes the retrievers' tails share words and topics,
so that agreement is mostly noise, and it pushed each retriever's best match out of the fused
top (docs/decisions.md, "Issue 12: fusion at scale"). Here agreement beats a first place only
on the first page of 10 results (``k = 8``: ranks 1-9 win, rank 10 ties).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from castgraph.retrieval.base import Hit

RRF_K = 8
"""Two retrievers agreeing on a chunk outrank a third's first hit only when both rank it
above 10th, a page of results (``r < k + 2``, see the module docstring)."""


@dataclass(slots=True)
class Fused:
    """A chunk after fusion: its fused score and its 1-based rank in each retriever."""

    chunk_id: str
    score: float
    ranks: dict[str, int] = field(default_factory=dict)


def reciprocal_rank_fusion(
    rankings: Mapping[str, Sequence[Hit]],
    weights: Mapping[str, float] | None = None,
    *,
    k: int = RRF_K,
) -> list[Fused]:
    """Fuse rankings by ``sum(weight / (k + rank))``; ties keep the first retriever's order."""
    fused: dict[str, Fused] = {}
    for name, hits in rankings.items():
        weight = 1.0 if weights is None else weights.get(name, 1.0)
        for rank, hit in enumerate(hits, start=1):
            entry = fused.setdefault(hit.chunk_id, Fused(hit.chunk_id, 0.0))
            if name in entry.ranks:
                continue  # a retriever listing a chunk twice counts it once
            entry.ranks[name] = rank
            entry.score += weight / (k + rank)
    return sorted(fused.values(), key=lambda f: -f.score)
