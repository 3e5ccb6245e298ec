"""The Topics page: entities of the knowledge graph, where each is mentioned, and its neighbours.

The graph store is the knowledge graph of record (entities merged across episodes by
``entity_key``, RELATED edges with their evidence chunks), so entities, mention counts and
relations come from it. Its chunks hold only a snippet, so each cited chunk is resolved to a
sentence (exact times and speaker) through the catalog's copy of that chunk.

Bounded for a page and a small graph drawing: depth 1, at most ``MAX_RELATED`` neighbours (the
strongest relations), ``RELATION_MOMENTS`` moments per relation and ``limit`` mention moments.
Only indexed episodes are cited, each by its live build's chunks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date

from castgraph.api._browse import Documents, EntityMatcher, chunk_start, moment
from castgraph.api.browse_schemas import Moment, RelatedOut, TopicDetail, TopicOut
from castgraph.catalog import SqlCatalog
from castgraph.core.errors import NotFoundError
from castgraph.core.models import chunk_build
from castgraph.core.text import entity_key
from castgraph.retrieval.graph.base import GraphChunk, GraphEntity, GraphStore, RelationFact

DEFAULT_TOPICS = 50
MAX_TOPICS = 500
DEFAULT_MOMENTS = 30
MAX_MOMENTS = 200
MAX_RELATED = 25
RELATION_MOMENTS = 3


def topics(graph: GraphStore, q: str | None = None, limit: int = DEFAULT_TOPICS) -> list[TopicOut]:
    """Entities by mention count; ``q`` keeps those whose folded name or alias contains it."""
    wanted = entity_key(q or "")
    found = [
        e
        for e in graph.entities()
        if not wanted or any(wanted in entity_key(n) for n in (e.name, *e.aliases))
    ]
    found.sort(key=lambda e: (-e.mentions, e.key))
    return [
        TopicOut(key=e.key, name=e.name, type=e.type, mentions=e.mentions) for e in found[:limit]
    ]


def topic(
    graph: GraphStore,
    catalog: SqlCatalog,
    visible: Mapping[str, int],
    key: str,
    *,
    limit: int = DEFAULT_MOMENTS,
) -> TopicDetail:
    """The entity ``key`` (or a name that folds to it) with its moments and depth-1 relations.
    Raises NotFoundError when the graph has no such entity."""
    k = entity_key(key)
    entities = {e.key: e for e in graph.entities()}
    entity = entities.get(k)
    if entity is None:
        raise NotFoundError(f"no topic {key!r} in the knowledge graph (see /api/topics)")
    facts = sorted(
        (f for f in graph.relations([k]) if f.source_key != f.target_key),
        key=lambda f: (-f.weight, f.type, f.source_key, f.target_key),
    )
    shown = facts[:MAX_RELATED]
    others = list(dict.fromkeys(_other(f, k) for f in shown))
    mentions = [m for m in graph.mentions([k, *others]) if _live(visible, m.chunk)]
    chunks = {m.chunk.id: m.chunk for m in mentions}
    ends = [entity, *(entities[o] for o in others if o in entities)]
    resolver = _Resolver(Documents(catalog), EntityMatcher(_forms(ends)))
    own = _ordered(m.chunk for m in mentions if m.entity_key == k)
    moments = resolver.moments(own, [(k,)], limit)
    related = [
        _related(f, k, entities, resolver, [chunks[c] for c in f.chunk_ids if c in chunks])
        for f in shown
    ]
    return TopicDetail(
        key=entity.key,
        name=entity.name,
        type=entity.type,
        aliases=list(entity.aliases),
        mentions=entity.mentions,
        moments=moments,
        related=related,
        related_total=len(facts),
        truncated=resolver.truncated or len(facts) > len(shown),
    )


def _live(visible: Mapping[str, int], chunk: GraphChunk) -> bool:
    """Whether the chunk is of its episode's live build (the graph may still hold the one a
    re-process just replaced, for the moment between the catalog swap and the graph's)."""
    return visible.get(chunk.episode_id) == chunk_build(chunk.id)


def _other(fact: RelationFact, key: str) -> str:
    return fact.target_key if fact.source_key == key else fact.source_key


def _forms(entities: Iterable[GraphEntity]) -> list[tuple[str, tuple[str, ...]]]:
    return [(e.key, (e.name, *e.aliases)) for e in entities]


def _ordered(chunks: Iterable[GraphChunk]) -> list[GraphChunk]:
    """Each chunk once, oldest publication first, then by episode and time (a timeline)."""
    unique = {c.id: c for c in chunks}.values()
    return sorted(
        unique, key=lambda c: (c.published is None, c.published or date.min, c.episode_id, c.start)
    )


def _related(
    fact: RelationFact,
    key: str,
    entities: dict[str, GraphEntity],
    resolver: _Resolver,
    evidence: Sequence[GraphChunk],
) -> RelatedOut:
    outgoing = fact.source_key == key
    other = fact.target_key if outgoing else fact.source_key
    found = entities.get(other)
    preference = [(key, other), (key,), (other,)]
    return RelatedOut(
        key=other,
        name=found.name if found else fact.target_name if outgoing else fact.source_name,
        type=found.type if found else "",
        relation=fact.type,
        direction="out" if outgoing else "in",
        weight=fact.weight,
        moments=resolver.moments(_ordered(evidence), preference, RELATION_MOMENTS, cap=False),
    )


class _Resolver:
    """Turns graph chunks into sentence moments, reading each episode from the catalog once."""

    def __init__(self, documents: Documents, matcher: EntityMatcher) -> None:
        self._documents = documents
        self._matcher = matcher
        self.truncated = False

    def moments(
        self,
        chunks: Sequence[GraphChunk],
        preference: Sequence[tuple[str, ...]],
        limit: int,
        *,
        cap: bool = True,
    ) -> list[Moment]:
        """Up to ``limit`` distinct moments, one per chunk; ``cap`` records a cut in
        ``truncated`` (a relation's few moments are a sample, not a cut)."""
        found: list[Moment] = []
        seen: set[tuple[str, float, str]] = set()
        for chunk in chunks:
            if len(found) >= limit:
                self.truncated = self.truncated or cap  # chunks were left unread
                break
            resolved = self._moment(chunk, preference, seen)
            if resolved is not None and (ident := _ident(resolved)) not in seen:
                seen.add(ident)
                found.append(resolved)
        return found

    def _moment(
        self,
        chunk: GraphChunk,
        preference: Sequence[tuple[str, ...]],
        seen: set[tuple[str, float, str]],
    ) -> Moment | None:
        """The chunk's first new sentence naming the first group of ``preference`` it can
        (both ends of a relation, else one), else the chunk's start."""
        read = self._documents.get(chunk.episode_id)
        stored = read[1].get(chunk.id) if read else None
        if read is None or stored is None:
            return None  # re-chunked or deleted since the graph was read
        episode = read[0].episode
        fresh = [s for s in stored.sentences if (episode.id, s.start, s.text) not in seen]
        for keys in preference:
            for sentence in fresh:
                if len(self._matcher.find(sentence.text, keys)) == len(keys):
                    return moment(episode, sentence)
        return moment(episode, chunk_start(stored))


def _ident(found: Moment) -> tuple[str, float, str]:
    return (found.episode_id, found.start, found.text)
