"""An in-memory ``GraphStore``: the reference semantics, and the fake for unit tests."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from castgraph.core.errors import StorageError
from castgraph.core.models import EpisodeDocument
from castgraph.retrieval.graph.base import (
    GraphChunk,
    GraphEntity,
    GraphStats,
    Mention,
    RelationFact,
)
from castgraph.retrieval.graph.plan import (
    EntityRow,
    RelationRow,
    add_contribution,
    merge_entity,
    plan_episode,
    remove_contribution,
)


class MemoryGraphStore:
    """Dictionaries in one process; thread-safe; nothing persists."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._version = 0
        self._episodes: dict[str, dict[str, Any]] = {}
        self._chunks: dict[str, dict[str, Any]] = {}
        self._episode_chunks: dict[str, list[str]] = {}
        self._next: dict[str, str] = {}
        self._said: dict[str, dict[str, None]] = {}
        self._entities: dict[str, EntityRow] = {}
        self._mentions: dict[str, dict[str, None]] = {}
        self._relations: dict[tuple[str, str, str], RelationRow] = {}

    def open(self) -> MemoryGraphStore:
        """Nothing to connect to; returns ``self``."""
        return self

    def close(self) -> None:
        """Nothing to release (the data stays until the object is dropped)."""

    def __enter__(self) -> MemoryGraphStore:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def version(self) -> str:
        """A counter bumped by every write."""
        return str(self._version)

    def stats(self) -> GraphStats:
        """Node and edge counts."""
        with self._lock:
            return GraphStats(
                episodes=len(self._episodes),
                chunks=len(self._chunks),
                speakers=len(self._said),
                entities=len(self._entities),
                mentions=sum(len(c) for c in self._mentions.values()),
                relations=len(self._relations),
                next_edges=len(self._next),
                said_edges=sum(len(c) for c in self._said.values()),
            )

    def upsert_episode(self, document: EpisodeDocument) -> None:
        """Replace the episode's part of the graph."""
        plan = plan_episode(document)
        episode_id = document.episode.id
        with self._lock:
            taken = [
                c["id"]
                for c in plan.chunks
                if self._chunks.get(c["id"], {}).get("episode_id", episode_id) != episode_id
            ]
            if taken:
                # The Cypher stores refuse the duplicate primary key and roll back: same here.
                raise StorageError(f"chunk ids already used by another episode: {taken[:3]}")
            self._delete(episode_id)
            self._episodes[episode_id] = dict(plan.episode)
            self._episode_chunks[episode_id] = [c["id"] for c in plan.chunks]
            for row in plan.chunks:
                self._chunks[row["id"]] = {**row, "episode_id": episode_id}
            self._next.update({p["a"]: p["b"] for p in plan.next_pairs})
            for said in plan.said:
                self._said.setdefault(said["speaker"], {})[said["chunk"]] = None
            for entity in plan.entities:
                self._entities[entity.key] = merge_entity(self._entities.get(entity.key), entity)
                self._mentions.setdefault(entity.key, {})
            for mention in plan.mentions:
                self._mentions[mention["key"]][mention["chunk"]] = None
            for relation in plan.relations:
                old = self._relations.get(relation.ident)
                self._relations[relation.ident] = add_contribution(old, relation)
            self._version += 1

    def delete_episode(self, episode_id: str) -> None:
        """Remove the episode and everything only it contributed."""
        with self._lock:
            self._delete(episode_id)
            self._version += 1

    def _delete(self, episode_id: str) -> None:
        chunk_ids = set(self._episode_chunks.pop(episode_id, []))
        self._episodes.pop(episode_id, None)
        candidates: set[str] = set()
        for ident, row in list(self._relations.items()):
            if episode_id in row.episode_ids:
                candidates.update(ident[:2])
                kept = remove_contribution(row, episode_id, chunk_ids)
                if kept is None:
                    del self._relations[ident]
                else:
                    self._relations[ident] = kept
        for chunk_id in chunk_ids:
            self._chunks.pop(chunk_id, None)
            self._next.pop(chunk_id, None)
        for key, chunks in self._mentions.items():
            if chunk_ids.intersection(chunks):
                candidates.add(key)
                self._mentions[key] = {c: None for c in chunks if c not in chunk_ids}
        self._drop_orphans(candidates, chunk_ids)

    def _drop_orphans(self, candidates: set[str], chunk_ids: set[str]) -> None:
        related = {end for ident in self._relations for end in ident[:2]}
        for key in candidates:
            if not self._mentions.get(key) and key not in related:
                self._entities.pop(key, None)
                self._mentions.pop(key, None)
        for name, chunks in list(self._said.items()):
            left = {c: None for c in chunks if c not in chunk_ids}
            if left:
                self._said[name] = left
            else:
                del self._said[name]

    def has_episode(self, episode_id: str) -> bool:
        """Whether the episode is in the graph."""
        return episode_id in self._episodes

    def episode_ids(self) -> set[str]:
        """Every episode id."""
        with self._lock:
            return set(self._episodes)

    def chunks(self, episode_id: str) -> list[GraphChunk]:
        """The episode's chunks by ordinal, with their NEXT neighbour."""
        with self._lock:
            ids = self._episode_chunks.get(episode_id, [])
            return [self._graph_chunk(c, self._next.get(c)) for c in ids]

    def _graph_chunk(self, chunk_id: str, next_id: str | None = None) -> GraphChunk:
        row = self._chunks[chunk_id]
        episode = self._episodes[row["episode_id"]]
        return GraphChunk(
            id=chunk_id,
            episode_id=row["episode_id"],
            ordinal=row["ordinal"],
            start=row["start"],
            end=row["end"],
            speakers=tuple(row["speakers"]),
            language=episode["language"],
            published=episode["published"],
            next_id=next_id,
        )

    def entities(self) -> list[GraphEntity]:
        """Every entity with its mention count."""
        with self._lock:
            return [
                GraphEntity(e.key, e.name, e.type, e.aliases, len(self._mentions.get(e.key, {})))
                for e in self._entities.values()
            ]

    def mentions(self, keys: Sequence[str]) -> list[Mention]:
        """The chunks mentioning any of ``keys``."""
        with self._lock:
            return [
                Mention(key, self._graph_chunk(chunk_id))
                for key in dict.fromkeys(keys)
                for chunk_id in self._mentions.get(key, {})
            ]

    def relations(self, keys: Sequence[str]) -> list[RelationFact]:
        """The RELATED edges touching any of ``keys`` (evidence in chunk id order)."""
        wanted = set(keys)
        with self._lock:
            return [
                RelationFact(
                    row.source,
                    self._entities[row.source].name,
                    row.target,
                    self._entities[row.target].name,
                    row.type,
                    row.weight,
                    tuple(sorted(row.chunk_ids)),
                )
                for row in self._relations.values()
                if row.source in wanted or row.target in wanted
            ]
