"""Reciprocal rank fusion: one ranking from several, robust to incomparable scores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
