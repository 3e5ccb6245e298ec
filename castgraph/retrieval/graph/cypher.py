"""The Cypher both graph backends share: the read queries and the ``GraphStore`` methods on top.

LadybugDB (Kùzu's dialect) and Neo4j 5 agree on everything here. Dialect notes:

- ``IN`` is a reserved word in Kùzu, so the relationship type is always written ```IN```,
  and ``end`` is a keyword in both, so the chunk property is written ```end```.
- Kùzu rejects ``UNWIND`` over an empty list parameter (it cannot infer the element type), so
  empty batches are skipped in Python; it also lacks list comprehensions with parameters, so
  list edits (aliases, relation evidence) are computed in Python (``plan``) and written whole.
- Kùzu cannot continue ``MERGE … WITH … MATCH`` in one statement; the node is matched first.
The write statements live in ``cypher_write``; schema (Kùzu tables) and constraints (Neo4j) in
each backend module.
"""

from __future__ import annotations

import abc
import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from castgraph.core import faults
from castgraph.core.models import EpisodeDocument
from castgraph.retrieval.graph.base import (
    GraphChunk,
    GraphEntity,
    GraphStats,
    Mention,
    RelationFact,
)
from castgraph.retrieval.graph.cypher_write import Row, Run, delete_episode, write_episode
from castgraph.retrieval.graph.plan import as_date, plan_episode

__all__ = ["CypherGraphStore", "Row", "Run"]

_CHUNK_COLUMNS = (
    "c.id, c.episode_id, c.ordinal, c.start, c.`end`, c.speakers, e.language, e.published"
)

SET_VERSION = "MERGE (m:GraphMeta {id: 'graph'}) SET m.version = $version"
GET_VERSION = "MATCH (m:GraphMeta {id: 'graph'}) RETURN m.version"
HAS_EPISODE = "MATCH (e:Episode {id: $episode_id}) RETURN e.id"
EPISODE_IDS = "MATCH (e:Episode) RETURN e.id"
CHUNKS = (
    "MATCH (c:Chunk)-[:`IN`]->(e:Episode {id: $episode_id}) OPTIONAL MATCH (c)-[:NEXT]->(n:Chunk) "
    f"RETURN {_CHUNK_COLUMNS}, n.id ORDER BY c.ordinal"
)
ENTITIES = (
    "MATCH (x:Entity) OPTIONAL MATCH (x)-[m:MENTIONED_IN]->(:Chunk) "
    "RETURN x.key, x.name, x.type, x.aliases, count(m)"
)
MENTIONS = (
    "MATCH (x:Entity)-[:MENTIONED_IN]->(c:Chunk)-[:`IN`]->(e:Episode) WHERE x.key IN $keys "
    f"RETURN x.key, {_CHUNK_COLUMNS}"
)
RELATIONS = (
    "MATCH (a:Entity)-[r:RELATED]->(b:Entity) WHERE a.key IN $keys OR b.key IN $keys "
    "RETURN a.key, a.name, b.key, b.name, r.type, r.weight, r.chunk_ids, r.episode_weights"
)
COUNTS = {
    "episodes": "MATCH (n:Episode) RETURN count(n)",
    "chunks": "MATCH (n:Chunk) RETURN count(n)",
    "speakers": "MATCH (n:Speaker) RETURN count(n)",
    "entities": "MATCH (n:Entity) RETURN count(n)",
    "mentions": "MATCH ()-[r:MENTIONED_IN]->() RETURN count(r)",
    # A relation may be several edges, one per episode (see cypher_write): count relations.
    "relations": (
        "MATCH (a:Entity)-[r:RELATED]->(b:Entity) "
        "WITH DISTINCT a.key AS s, b.key AS t, r.type AS k RETURN count(*)"
    ),
    "next_edges": "MATCH ()-[r:NEXT]->() RETURN count(r)",
    "said_edges": "MATCH ()-[r:SAID]->() RETURN count(r)",
}


def _graph_chunk(row: Sequence[Any], next_id: str | None = None) -> GraphChunk:
    return GraphChunk(
        id=row[0],
        episode_id=row[1],
        ordinal=int(row[2]),
        start=float(row[3]),
        end=float(row[4]),
        speakers=tuple(row[5] or ()),
        language=row[6],
        published=as_date(row[7]),
        next_id=next_id,
    )


class CypherGraphStore(abc.ABC):
    """The ``GraphStore`` methods over two primitives each backend provides."""

    @abc.abstractmethod
    def _read(self, query: str, params: Mapping[str, Any]) -> list[Row]:
        """Run a read-only statement and return its rows."""

    @abc.abstractmethod
    def _write(self, work: Callable[[Run], None]) -> None:
        """Run ``work`` in one write transaction (all of it or nothing)."""

    def _write_versioned(self, work: Callable[[Run], None]) -> None:
        def versioned(run: Run) -> None:
            work(run)
            run(SET_VERSION, {"version": uuid.uuid4().hex})

        self._write(versioned)

    def version(self) -> str:
        """A token replaced by every write."""
        rows = self._read(GET_VERSION, {})
        return str(rows[0][0]) if rows and rows[0][0] is not None else ""

    def stats(self) -> GraphStats:
        """Node and edge counts."""
        counts = {name: self._read(query, {}) for name, query in COUNTS.items()}
        return GraphStats(**{name: int(rows[0][0]) if rows else 0 for name, rows in counts.items()})

    def upsert_episode(self, document: EpisodeDocument) -> None:
        """Replace the episode's part of the graph in one transaction."""
        plan = plan_episode(document)

        def write(run: Run) -> None:
            write_episode(run, plan)
            faults.point("graph-store-uncommitted")

        self._write_versioned(write)
        faults.point("graph-store")

    def delete_episode(self, episode_id: str) -> None:
        """Remove the episode and everything only it contributed, in one transaction."""
        self._write_versioned(lambda run: delete_episode(run, episode_id))

    def has_episode(self, episode_id: str) -> bool:
        """Whether the episode is in the graph."""
        return bool(self._read(HAS_EPISODE, {"episode_id": episode_id}))

    def episode_ids(self) -> set[str]:
        """Every episode id."""
        return {r[0] for r in self._read(EPISODE_IDS, {})}

    def chunks(self, episode_id: str) -> list[GraphChunk]:
        """The episode's chunks by ordinal, with their NEXT neighbour."""
        return [_graph_chunk(r, r[8]) for r in self._read(CHUNKS, {"episode_id": episode_id})]

    def entities(self) -> list[GraphEntity]:
        """Every entity with its mention count."""
        return [
            GraphEntity(r[0], r[1], r[2] or "", tuple(r[3] or ()), int(r[4]))
            for r in self._read(ENTITIES, {})
        ]

    def mentions(self, keys: Sequence[str]) -> list[Mention]:
        """The chunks mentioning any of ``keys``."""
        if not keys:
            return []
        rows = self._read(MENTIONS, {"keys": list(dict.fromkeys(keys))})
        return [Mention(r[0], _graph_chunk(r[1:])) for r in rows]

    def relations(self, keys: Sequence[str]) -> list[RelationFact]:
        """The RELATED edges touching any of ``keys``."""
        if not keys:
            return []
        return relation_facts(self._read(RELATIONS, {"keys": list(dict.fromkeys(keys))}))


def relation_facts(rows: Sequence[Row]) -> list[RelationFact]:
    """One fact per (source, target, type) from its edges (one per episode, or a shared one).

    The weight is the exact sum of every contribution and the evidence is in chunk id order,
    as in the memory store, so the result does not depend on the order edges come back in.
    """
    names: dict[tuple[str, str, str], tuple[str, str]] = {}
    weights: dict[tuple[str, str, str], list[float]] = {}
    evidence: dict[tuple[str, str, str], set[str]] = {}
    for row in rows:
        ident = (row[0], row[2], row[4])
        names.setdefault(ident, (row[1], row[3]))
        contributions = row[7] or [row[5] or 0.0]
        weights.setdefault(ident, []).extend(float(w) for w in contributions)
        evidence.setdefault(ident, set()).update(row[6] or ())
    return [
        RelationFact(
            ident[0],
            names[ident][0],
            ident[1],
            names[ident][1],
            ident[2],
            math.fsum(weights[ident]),
            tuple(sorted(evidence[ident])),
        )
        for ident in names
    ]
