"""Backend-neutral graph semantics: what an episode writes, and how contributions merge.

Every backend turns an ``EpisodeDocument`` into the same rows here and merges entities and
relations with the same functions, so the memory store is the reference for the Cypher ones.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from castgraph.core.models import EpisodeDocument, Relation
from castgraph.core.text import entity_key

log = logging.getLogger(__name__)

SNIPPET_CHARS = 160
"""Chunk text kept in the graph: enough to recognise a chunk when browsing, not a second copy."""

DEFAULT_RELATION_TYPE = "RELATED_TO"


@dataclass(frozen=True, slots=True)
class EntityRow:
    """An entity node's properties."""

    key: str
    name: str
    type: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RelationRow:
    """A RELATED edge with each contributing episode's weight (parallel tuples)."""

    source: str
    target: str
    type: str
    chunk_ids: tuple[str, ...]
    episode_ids: tuple[str, ...]
    episode_weights: tuple[float, ...]

    @property
    def weight(self) -> float:
        # fsum: the same total in whatever order the contributions are added (stores differ).
        return math.fsum(self.episode_weights)

    @property
    def ident(self) -> tuple[str, str, str]:
        return (self.source, self.target, self.type)


@dataclass(frozen=True, slots=True)
class EpisodePlan:
    """The rows one episode contributes, ready for batched writes (lists of plain dicts)."""

    episode: dict[str, Any]
    chunks: list[dict[str, Any]] = field(default_factory=list)
    next_pairs: list[dict[str, str]] = field(default_factory=list)
    speakers: list[str] = field(default_factory=list)
    said: list[dict[str, str]] = field(default_factory=list)
    entities: list[EntityRow] = field(default_factory=list)
    mentions: list[dict[str, str]] = field(default_factory=list)
    relations: list[RelationRow] = field(default_factory=list)


def plan_episode(document: EpisodeDocument) -> EpisodePlan:
    """The rows of ``document``; raises ``ValueError`` on chunks of another episode."""
    episode = document.episode
    chunks = sorted(document.chunks, key=lambda c: c.ordinal)
    ids = [c.id for c in chunks]
    if len(set(ids)) != len(ids):
        raise ValueError(f"episode {episode.id}: duplicate chunk ids")
    stray = [c.id for c in chunks if c.episode_id != episode.id]
    if stray:
        raise ValueError(f"episode {episode.id}: chunks of another episode: {stray[:3]}")
    language = episode.language or (chunks[0].language if chunks else None)
    plan = EpisodePlan(
        episode={
            "id": episode.id,
            "title": episode.title,
            "url": episode.url,
            "published": episode.published,
            "language": language,
        }
    )
    for chunk in chunks:
        plan.chunks.append(
            {
                "id": chunk.id,
                "ordinal": chunk.ordinal,
                "start": float(chunk.start),
                "end": float(chunk.end),
                "text": chunk.text[:SNIPPET_CHARS],
                "speakers": list(chunk.speakers),
            }
        )
        plan.said.extend({"speaker": s, "chunk": chunk.id} for s in dict.fromkeys(chunk.speakers))
    plan.next_pairs.extend({"a": a, "b": b} for a, b in itertools.pairwise(ids))
    plan.speakers.extend(dict.fromkeys(s["speaker"] for s in plan.said))
    _plan_entities(document, plan, set(ids))
    return plan


def _plan_entities(document: EpisodeDocument, plan: EpisodePlan, chunk_ids: set[str]) -> None:
    """Entities merged by key within the document, their mentions and their relations."""
    rows: dict[str, EntityRow] = {}
    mentioned: dict[str, dict[str, None]] = {}
    for entity in document.entities:
        key = entity_key(entity.name)
        if not key:
            continue
        new = EntityRow(key, entity.name, entity.type, _clean_aliases(key, entity.aliases))
        rows[key] = merge_entity(rows.get(key), new)
        found = mentioned.setdefault(key, {})
        found.update(dict.fromkeys(c for c in entity.chunk_ids if c in chunk_ids))
    resolve = {key: key for key in rows}
    for row in rows.values():
        resolve.update({entity_key(a): row.key for a in row.aliases if entity_key(a) not in rows})
    plan.relations.extend(_plan_relations(document, resolve, chunk_ids))
    # An entity with neither a mention nor a relation here would outlive the episode's deletion.
    used = {k for k, cs in mentioned.items() if cs}
    used.update(end for r in plan.relations for end in (r.source, r.target))
    plan.entities.extend(row for key, row in rows.items() if key in used)
    plan.mentions.extend({"key": k, "chunk": c} for k, cs in mentioned.items() for c in cs)


def _plan_relations(
    document: EpisodeDocument, resolve: dict[str, str], chunk_ids: set[str]
) -> list[RelationRow]:
    """This episode's relation contributions, endpoints mapped to entity keys (names or aliases)."""
    merged: dict[tuple[str, str, str], RelationRow] = {}
    episode_id = document.episode.id
    for relation in document.relations:
        ends = _endpoints(relation, resolve)
        if ends is None:
            continue
        kind = relation.type.strip() or DEFAULT_RELATION_TYPE
        evidence = tuple(dict.fromkeys(c for c in relation.chunk_ids if c in chunk_ids))
        new = RelationRow(*ends, kind, evidence, (episode_id,), (float(relation.weight),))
        old = merged.get(new.ident)
        if old is not None:
            new = RelationRow(
                *new.ident,
                _union(old.chunk_ids, new.chunk_ids),
                (episode_id,),
                (old.weight + new.weight,),
            )
        merged[new.ident] = new
    return list(merged.values())


def _endpoints(relation: Relation, resolve: dict[str, str]) -> tuple[str, str] | None:
    source = resolve.get(entity_key(relation.source))
    target = resolve.get(entity_key(relation.target))
    if source is None or target is None:
        # The edge needs both nodes; an extractor naming an unknown entity is a bug upstream.
        log.debug("relation %r skipped: endpoint is not an entity of the episode", relation)
        return None
    if source == target:
        return None
    return source, target


def _clean_aliases(key: str, aliases: Iterable[str]) -> tuple[str, ...]:
    """Aliases that add a new spelling: none folding to the entity key or to each other."""
    seen = {key}
    kept: list[str] = []
    for alias in aliases:
        alias_key = entity_key(alias)
        if alias_key and alias_key not in seen:
            seen.add(alias_key)
            kept.append(alias.strip())
    return tuple(kept)


def _union(first: Iterable[str], second: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*first, *second]))


def merge_entity(existing: EntityRow | None, new: EntityRow) -> EntityRow:
    """The first-seen name and type win (a missing type is filled in); aliases are unioned."""
    if existing is None:
        return new
    aliases = _clean_aliases(existing.key, [*existing.aliases, *new.aliases])
    return EntityRow(existing.key, existing.name, existing.type or new.type, aliases)


def add_contribution(existing: RelationRow | None, new: RelationRow) -> RelationRow:
    """``existing`` plus one episode's contribution (replacing that episode's earlier one)."""
    if existing is None:
        return new
    episode_id = new.episode_ids[0]
    kept = [
        (e, w)
        for e, w in zip(existing.episode_ids, existing.episode_weights, strict=True)
        if e != episode_id
    ]
    kept.append((episode_id, new.weight))
    return RelationRow(
        *existing.ident,
        _union(existing.chunk_ids, new.chunk_ids),
        tuple(e for e, _ in kept),
        tuple(w for _, w in kept),
    )


def remove_contribution(
    row: RelationRow, episode_id: str, chunk_ids: set[str]
) -> RelationRow | None:
    """``row`` without the episode's weight and evidence, or ``None`` when nothing is left."""
    kept = [
        (e, w) for e, w in zip(row.episode_ids, row.episode_weights, strict=True) if e != episode_id
    ]
    if not kept:
        return None
    return RelationRow(
        *row.ident,
        tuple(c for c in row.chunk_ids if c not in chunk_ids),
        tuple(e for e, _ in kept),
        tuple(w for _, w in kept),
    )


def as_date(value: Any) -> date | None:
    """A driver's date value as ``datetime.date`` (Neo4j returns its own ``Date`` type)."""
    if value is None or isinstance(value, date):
        return value
    to_native = getattr(value, "to_native", None)
    native = to_native() if callable(to_native) else None
    return native if isinstance(native, date) else None
