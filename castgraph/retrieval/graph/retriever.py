"""The graph retriever: entities linked from the question → their neighbourhood → chunks.

A chunk's score is the strength of the paths that reach it: for each linked entity that
mentions it, the link confidence (hop 0); for each entity ``hops`` RELATED steps away, the
link confidence × the relation weights (each normalised by the strongest relation of its
source) × ``decay`` per hop. Hop contributions to one chunk are capped at ``decay`` so that
a chunk naming the asked entity outranks one that merely names many of its neighbours, and
a chunk naming several linked entities gets ``pair_bonus`` per extra entity: a question
about two entities ranks the chunks where both appear first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext

import numpy as np

from castgraph.core.models import Chunk
from castgraph.core.ports import Embedder
from castgraph.retrieval.base import Hit, SearchFilters
from castgraph.retrieval.graph.base import (
    GraphChunk,
    GraphSearchReader,
    LinkedEntity,
    RelationFact,
    SnapshotReader,
)
from castgraph.retrieval.graph.linking import EntityIndex, EntityLinker
from castgraph.retrieval.graph.scoring import SearchCache, best, strongest, weighted_counts


def _as_chunk(chunk: GraphChunk) -> Chunk:
    """A stand-in ``Chunk`` with the fields ``SearchFilters.matches`` reads."""
    return Chunk(
        id=chunk.id,
        episode_id=chunk.episode_id,
        ordinal=chunk.ordinal,
        start=chunk.start,
        end=chunk.end,
        text="",
        speakers=chunk.speakers,
        language=chunk.language or "",
        title="",
        url="",
        published=chunk.published,
    )


class GraphRetriever:
    """``Retriever`` over a ``GraphSearchReader`` (the read model, or any ``GraphStore``); also
    links entities and returns relation facts."""

    def __init__(
        self,
        store: GraphSearchReader,
        *,
        embedder: Embedder | None = None,
        hops: int = 2,
        fuzzy_threshold: float = 88.0,
        decay: float = 0.5,
        pair_bonus: float = 1.0,
        max_frontier: int = 25,
        embedding_threshold: float = 0.6,
        mention_budget: int = 2000,
    ) -> None:
        self.store = store
        self.mention_budget = mention_budget
        self.hops = max(0, hops)
        self.decay = decay
        self.pair_bonus = pair_bonus
        self.max_frontier = max_frontier
        self._cache: SearchCache | None = None
        self.linker = EntityLinker(
            store,
            embedder=embedder,
            fuzzy_threshold=fuzzy_threshold,
            embedding_threshold=embedding_threshold,
            hub_mentions=mention_budget,
        )

    def link(self, query: str) -> list[LinkedEntity]:
        """The graph entities ``query`` mentions, most confident first."""
        with self._snapshot():
            return self.linker.link(query)

    def _snapshot(self) -> AbstractContextManager[None]:
        """One state of the reader for a whole search, where the reader can pin one."""
        if isinstance(self.store, SnapshotReader):
            return self.store.snapshot()
        return nullcontext()

    def search(self, query: str, k: int, filters: SearchFilters) -> list[Hit]:
        """The ``k`` chunks best connected to the question's entities; [] when none is linked."""
        if k <= 0:
            return []
        with self._snapshot():
            return self._search(query, k, filters)

    def _search(self, query: str, k: int, filters: SearchFilters) -> list[Hit]:
        index = self.linker.index()
        links = self.linker.link(query, index)
        if not links:
            return []
        cache = self._cache_for(index)
        weights = {link.key: link.confidence * _specificity(index, link.key) for link in links}
        keys = self._within_budget(index, weights)
        direct_arrays = cache.postings(self.store, keys)
        hop_arrays, hop_weights = self._expand(cache, weights)
        size = len(cache.chunks)
        direct, linked = weighted_counts(direct_arrays, [weights[key] for key in keys], size)
        extra, hop_hits = weighted_counts(hop_arrays, hop_weights, size)
        # Added in this order (direct, capped hops, pair bonus): the same sums as one expression.
        scores = direct + np.minimum(extra, self.decay)
        scores += np.where(linked > 1, self.pair_bonus * (linked - 1), 0.0)
        candidates = np.flatnonzero((linked > 0) | (hop_hits > 0))
        if not filters.empty:  # a chunk's score never depends on another's: filter at the end
            chunks = cache.chunks
            keep = [filters.matches(_as_chunk(chunks[n])) for n in candidates.tolist()]
            candidates = candidates[np.asarray(keep, dtype=bool)]
        ranked = best(scores, candidates, cache.chunks, k)
        return [Hit(cid, round(score, 6)) for score, cid in ranked]

    def warm(self, batch: int = 200) -> None:
        """Read the postings and relations of the entities graph search may read (the most
        mentioned first) until half the cache is used, then embed the names entity linking
        compares against, so that a restarted server's first searches cost what later ones do.
        A new graph version starts the cache again."""
        with self._snapshot():
            index = self.linker.index()
        cache = self._cache_for(index)
        keys = sorted(
            (k for k, e in index.by_key.items() if e.mentions <= self.mention_budget),
            key=lambda k: -index.by_key[k].mentions,
        )
        for start in range(0, len(keys), batch):
            if cache.half_full or self._cache is not cache:
                break
            with self._snapshot():
                cache.postings(self.store, keys[start : start + batch])
                for key in keys[start : start + batch]:
                    cache.neighbours(self.store, key, self.mention_budget)
        self.linker.prepare(index)

    def _cache_for(self, index: EntityIndex) -> SearchCache:
        """The working set of the graph version ``index`` was built from (a new one when the
        version changed or the old one is full)."""
        cache = self._cache
        if cache is None or cache.index is not index or cache.full:
            cache = self._cache = SearchCache(index)
        return cache

    def _within_budget(self, index: EntityIndex, weights: Mapping[str, float]) -> list[str]:
        """The entities of ``weights`` whose mentions are read, rarest first, up to
        ``mention_budget`` mentions in all; a hub (an entity named in more chunks than the whole
        budget: a host, the show's city) is never read. Its mentions say little about which
        chunk answers (they all tie), and reading tens of thousands of them made graph search
        cost more than the rest of the search on large channels; a hub still leads to its
        neighbours through its relations (``_expand``)."""
        by_key = index.by_key
        budget, keys = self.mention_budget, list[str]()
        for key in sorted(weights, key=lambda k: by_key[k].mentions if k in by_key else 0):
            count = by_key[key].mentions if key in by_key else 0
            if count > budget:
                break  # sorted rarest first: every key after this one is as common or more
            keys.append(key)
            budget -= count
        return keys

    def _expand(
        self, cache: SearchCache, weights: Mapping[str, float]
    ) -> tuple[list[np.ndarray], list[float]]:
        """The postings of the entities 1..hops RELATED steps from the linked ones, with the
        weight each adds to the chunks it mentions."""
        reached = set(weights)
        frontier = dict(weights)
        arrays: list[np.ndarray] = []
        hop_weights: list[float] = []
        for _hop in range(self.hops):
            frontier = self._step(cache, frontier, reached)
            if not frontier:
                break
            keys = self._within_budget(cache.index, frontier)
            arrays += cache.postings(self.store, keys)
            hop_weights += [frontier[key] for key in keys]
        return arrays, hop_weights

    def _step(
        self, cache: SearchCache, frontier: Mapping[str, float], reached: set[str]
    ) -> dict[str, float]:
        """The ``max_frontier`` heaviest entities one RELATED step beyond ``frontier`` (weights
        summed over paths, in frontier order); every entity met joins ``reached``."""
        numbers: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        for here, weight in frontier.items():
            there, shares = cache.neighbours(self.store, here, self.mention_budget)
            numbers.append(there)
            weights.append(weight * shares * self.decay)
        if not numbers:
            return {}
        ids, contributions = np.concatenate(numbers), np.concatenate(weights)
        return strongest(ids, contributions, cache.keys, reached, self.max_frontier)

    def facts(self, query: str, limit: int = 10) -> list[RelationFact]:
        """Relation facts among and around the question's entities, the most relevant first.

        Facts joining two linked entities come first; each carries its evidence chunk ids.
        """
        if limit <= 0:
            return []
        with self._snapshot():
            links = self.linker.link(query)
            confidence = {link.key: link.confidence for link in links}
            found = self.store.relations(list(confidence)) if links else []

        def relevance(fact: RelationFact) -> tuple[float, float, str, str, str]:
            ends = [confidence.get(fact.source_key, 0.0), confidence.get(fact.target_key, 0.0)]
            both = all(ends)
            strength = -(sum(ends) + (self.pair_bonus * 2 if both else 0.0))
            # Ties in the edge's own order, not the reader's (which differs between backends).
            return (strength, -fact.weight, fact.source_key, fact.target_key, fact.type)

        return sorted(found, key=relevance)[:limit]


def _specificity(index: EntityIndex, key: str) -> float:
    """How much naming this entity says about a chunk: 1 for an entity named once, falling
    with its mention count (as idf does for words), so a chunk naming the rare guest a
    question asks about outranks one naming only the common topic it asks about."""
    found = index.by_key.get(key)
    mentions = found.mentions if found is not None else 1
    return 1.0 / (1.0 + math.log10(max(1, mentions)))
