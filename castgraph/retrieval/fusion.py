"""Reciprocal rank fusion: one ranking from several, robust to incomparable scores.

Plain RRF lets agreement win: with ``k = 60`` two retrievers that both list a chunk anywhere in
their 50 candidates outscore one retriever's first place (``2 / (k + 50) > 1 / (k + 1)``). On a
small index that agreement is signal; beside thousands of other episodes it is mostly noise,
since the retrievers' tails share words and topics, and it pushed each retriever's best match
out of the fused top (docs/decisions.md, "Issue 12: fusion at scale"). So the fused head keeps
a seat for every retriever: each one's first hit is among the first ``n`` results, ``n`` being
the number of retrievers that found anything. Below the head, RRF's order is untouched.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from castgraph.retrieval.base import Hit

RRF_K = 60
"""The usual RRF constant: it damps the advantage of the very first ranks."""


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
    seats: bool = True,
) -> list[Fused]:
    """Fuse rankings by ``sum(weight / (k + rank))``; ties keep the first retriever's order.

    With ``seats`` (the default) the first hit of each retriever of positive weight leads the
    list, ordered by fused score, so ``n`` retrievers' first hits fill (at most) the first ``n``
    places; the rest follow in RRF order. A chunk's ``score`` stays its RRF score, so a chunk
    below the head may score more than a first hit above it."""
    fused: dict[str, Fused] = {}
    firsts: set[str] = set()
    for name, hits in rankings.items():
        weight = 1.0 if weights is None else weights.get(name, 1.0)
        if hits and weight > 0:
            firsts.add(hits[0].chunk_id)
        for rank, hit in enumerate(hits, start=1):
            entry = fused.setdefault(hit.chunk_id, Fused(hit.chunk_id, 0.0))
            if name in entry.ranks:
                continue  # a retriever listing a chunk twice counts it once
            entry.ranks[name] = rank
            entry.score += weight / (k + rank)
    ordered = sorted(fused.values(), key=lambda f: -f.score)
    return with_seats(ordered, firsts) if seats else ordered


def with_seats(ordered: list[Fused], firsts: Collection[str]) -> list[Fused]:
    """``ordered`` with the entries of ``firsts`` moved ahead of all others, each group in
    ``ordered``'s order."""
    head = [f for f in ordered if f.chunk_id in firsts]
    return head + [f for f in ordered if f.chunk_id not in firsts]
