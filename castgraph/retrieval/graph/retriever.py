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

import heapq
from collections import defaultdict
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext

from castgraph.core.models import Chunk
from castgraph.core.ports import Embedder
from castgraph.retrieval.base import Hit, SearchFilters
from castgraph.retrieval.graph.base import (
    GraphChunk,
    GraphSearchReader,
    LinkedEntity,
    Mention,
    RelationFact,
    SnapshotReader,
)
from castgraph.retrieval.graph.linking import EntityIndex, EntityLinker


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
        self.linker = EntityLinker(
            store,
            embedder=embedder,
            fuzzy_threshold=fuzzy_threshold,
            embedding_threshold=embedding_threshold,
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
        weights = {link.key: link.confidence for link in links}
        direct: dict[str, float] = defaultdict(float)
        linked_in: dict[str, set[str]] = defaultdict(set)
        chunks: dict[str, GraphChunk] = {}
        for mention in self._mentions(index, weights, filters, chunks):
            direct[mention.chunk.id] += weights[mention.entity_key]
            linked_in[mention.chunk.id].add(mention.entity_key)
        expanded = self._expand(index, weights, filters, chunks)
        # Added in this order (direct, capped hops, pair bonus): the same sums as one expression.
        scores = dict(direct)
        for cid, extra in expanded.items():
            scores[cid] = scores.get(cid, 0.0) + min(extra, self.decay)
        for cid, keys in linked_in.items():
            if len(keys) > 1:
                scores[cid] += self.pair_bonus * (len(keys) - 1)
        # Plain tuples compare in C: thousands of candidates rank in about a millisecond.
        ranked = heapq.nsmallest(
            k,
            [(-s, chunks[cid].episode_id, chunks[cid].ordinal, cid) for cid, s in scores.items()],
        )
        return [Hit(cid, round(-score, 6)) for score, _, _, cid in ranked]

    def _mentions(
        self,
        index: EntityIndex,
        weights: Mapping[str, float],
        filters: SearchFilters,
        seen: dict[str, GraphChunk],
    ) -> list[Mention]:
        """Mentions of ``weights``' entities in chunks that pass ``filters``.

        Rarest entities first, up to ``mention_budget`` mention rows: an entity named in
        thousands of chunks (a host, the show's city) says little about which chunk answers, and
        reading all its mentions made graph search cost seconds on large channels.
        """
        by_key = index.by_key
        budget, keys = self.mention_budget, list[str]()
        for key in sorted(weights, key=lambda k: by_key[k].mentions if k in by_key else 0):
            count = by_key[key].mentions if key in by_key else 0
            if keys and count > budget:
                break
            keys.append(key)
            budget -= count
        kept = [
            m
            for m in self.store.mentions(keys)
            if filters.empty or filters.matches(_as_chunk(m.chunk))
        ]
        seen.update((m.chunk.id, m.chunk) for m in kept)
        return kept

    def _expand(
        self,
        index: EntityIndex,
        weights: Mapping[str, float],
        filters: SearchFilters,
        seen: dict[str, GraphChunk],
    ) -> dict[str, float]:
        """Chunk scores contributed by entities 1..hops RELATED steps from the linked ones."""
        reached = set(weights)
        frontier = dict(weights)
        scores: dict[str, float] = defaultdict(float)
        for _hop in range(self.hops):
            facts = self.store.relations(list(frontier))
            following = self._step(index, frontier, facts, reached)
            if not following:
                break
            best = sorted(following.items(), key=lambda item: (-item[1], item[0]))
            frontier = dict(best[: self.max_frontier])
            reached.update(following)
            for mention in self._mentions(index, frontier, filters, seen):
                scores[mention.chunk.id] += frontier[mention.entity_key]
        return scores

    def _step(
        self,
        index: EntityIndex,
        frontier: Mapping[str, float],
        facts: Sequence[RelationFact],
        reached: set[str],
    ) -> dict[str, float]:
        """Weights of the entities one RELATED step beyond ``frontier`` (summed over paths);
        hubs (entities with more mentions than the budget) are never expanded into."""
        strongest: dict[str, float] = defaultdict(float)
        for fact in facts:
            for end in (fact.source_key, fact.target_key):
                strongest[end] = max(strongest[end], fact.weight)
        following: dict[str, float] = defaultdict(float)
        for fact in facts:
            for here, there in (
                (fact.source_key, fact.target_key),
                (fact.target_key, fact.source_key),
            ):
                if here in frontier and there not in reached and strongest[here] > 0:
                    share = fact.weight / strongest[here]
                    following[there] += frontier[here] * share * self.decay
        by_key = index.by_key
        return {
            key: weight
            for key, weight in following.items()
            if key in by_key and by_key[key].mentions <= self.mention_budget
        }

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
