"""The Cypher both graph backends share: query strings and the write/read logic around them.

LadybugDB (Kùzu's dialect) and Neo4j 5 agree on everything here. Dialect notes:

- ``IN`` is a reserved word in Kùzu, so the relationship type is always written ```IN```,
  and ``end`` is a keyword in both, so the chunk property is written ```end```.
- Kùzu rejects ``UNWIND`` over an empty list parameter (it cannot infer the element type), so
  empty batches are skipped in Python; it also lacks list comprehensions with parameters, so
  list edits (aliases, relation evidence) are computed in Python (``plan``) and written whole.
- Kùzu cannot continue ``MERGE … WITH … MATCH`` in one statement; the node is matched first.
Schema (Kùzu tables) and constraints (Neo4j) live in each backend module.
"""

from __future__ import annotations

import abc
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

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
    EpisodePlan,
    RelationRow,
    add_contribution,
    as_date,
    merge_entity,
    plan_episode,
    remove_contribution,
)

Row = list[Any]
Run = Callable[[str, Mapping[str, Any]], list[Row]]
"""Runs one statement inside the current transaction and returns its rows."""

BATCH = 1000
"""Rows per UNWIND statement: bounds the parameter size of very long episodes."""

_BY_EPISODE = "(:Chunk)-[:`IN`]->(:Episode {id: $episode_id})"
_CHUNK_COLUMNS = (
    "c.id, c.episode_id, c.ordinal, c.start, c.`end`, c.speakers, e.language, e.published"
)
_RELATION_COLUMNS = "a.key, b.key, r.type, r.chunk_ids, r.episode_ids, r.episode_weights"

MERGE_EPISODE = (
    "MERGE (e:Episode {id: $id}) SET e.title = $title, e.url = $url, "
    "e.published = $published, e.language = $language"
)
CREATE_CHUNKS = (
    "MATCH (e:Episode {id: $episode_id}) UNWIND $rows AS r "
    "CREATE (c:Chunk {id: r.id, episode_id: $episode_id, ordinal: r.ordinal, start: r.start, "
    "`end`: r.`end`, text: r.text, speakers: r.speakers})-[:`IN`]->(e)"
)
CREATE_NEXT = (
    "UNWIND $rows AS r MATCH (a:Chunk {id: r.a}), (b:Chunk {id: r.b}) CREATE (a)-[:NEXT]->(b)"
)
MERGE_SPEAKERS = "UNWIND $rows AS n MERGE (:Speaker {name: n})"
CREATE_SAID = (
    "UNWIND $rows AS r MATCH (s:Speaker {name: r.speaker}), (c:Chunk {id: r.chunk}) "
    "CREATE (s)-[:SAID]->(c)"
)
GET_ENTITIES = "MATCH (x:Entity) WHERE x.key IN $keys RETURN x.key, x.name, x.type, x.aliases"
MERGE_ENTITIES = (
    "UNWIND $rows AS r MERGE (x:Entity {key: r.key}) "
    "SET x.name = r.name, x.type = r.type, x.aliases = r.aliases"
)
CREATE_MENTIONS = (
    "UNWIND $rows AS r MATCH (x:Entity {key: r.key}), (c:Chunk {id: r.chunk}) "
    "CREATE (x)-[:MENTIONED_IN]->(c)"
)
GET_RELATIONS_AMONG = (
    "MATCH (a:Entity)-[r:RELATED]->(b:Entity) WHERE a.key IN $keys AND b.key IN $keys "
    f"RETURN {_RELATION_COLUMNS}"
)
SET_RELATIONS = (
    "UNWIND $rows AS r MATCH (a:Entity {key: r.source}), (b:Entity {key: r.target}) "
    "MERGE (a)-[e:RELATED {type: r.type}]->(b) SET e.chunk_ids = r.chunk_ids, "
    "e.weight = r.weight, e.episode_ids = r.episode_ids, e.episode_weights = r.episode_weights"
)
DELETE_RELATIONS = (
    "UNWIND $rows AS r MATCH (a:Entity {key: r.source})-[e:RELATED {type: r.type}]->"
    "(b:Entity {key: r.target}) DELETE e"
)
EPISODE_RELATIONS = (
    "MATCH (a:Entity)-[r:RELATED]->(b:Entity) WHERE $episode_id IN r.episode_ids "
    f"RETURN {_RELATION_COLUMNS}"
)
EPISODE_CHUNK_IDS = "MATCH (c:Chunk)-[:`IN`]->(:Episode {id: $episode_id}) RETURN c.id"
EPISODE_ENTITY_KEYS = f"MATCH (x:Entity)-[:MENTIONED_IN]->{_BY_EPISODE} RETURN DISTINCT x.key"
EPISODE_SPEAKERS = f"MATCH (s:Speaker)-[:SAID]->{_BY_EPISODE} RETURN DISTINCT s.name"
DELETE_CHUNKS = "MATCH (c:Chunk)-[:`IN`]->(:Episode {id: $episode_id}) DETACH DELETE c"
DELETE_EPISODE = "MATCH (e:Episode {id: $episode_id}) DETACH DELETE e"
DELETE_ORPHAN_ENTITIES = (
    "UNWIND $rows AS k MATCH (x:Entity {key: k}) "
    "WHERE NOT EXISTS { MATCH (x)-[:MENTIONED_IN]->() } AND NOT EXISTS { MATCH (x)-[:RELATED]-() } "
    "DETACH DELETE x"
)
DELETE_ORPHAN_SPEAKERS = (
    "UNWIND $rows AS n MATCH (s:Speaker {name: n}) WHERE NOT EXISTS { MATCH (s)-[:SAID]->() } "
    "DETACH DELETE s"
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
    "RETURN a.key, a.name, b.key, b.name, r.type, r.weight, r.chunk_ids"
)
COUNTS = {
    "episodes": "MATCH (n:Episode) RETURN count(n)",
    "chunks": "MATCH (n:Chunk) RETURN count(n)",
    "speakers": "MATCH (n:Speaker) RETURN count(n)",
    "entities": "MATCH (n:Entity) RETURN count(n)",
    "mentions": "MATCH ()-[r:MENTIONED_IN]->() RETURN count(r)",
    "relations": "MATCH ()-[r:RELATED]->() RETURN count(r)",
    "next_edges": "MATCH ()-[r:NEXT]->() RETURN count(r)",
    "said_edges": "MATCH ()-[r:SAID]->() RETURN count(r)",
}


def batched(run: Run, query: str, rows: Sequence[Any], **params: Any) -> None:
    """Run ``query`` with ``$rows`` in slices of ``BATCH``; nothing for no rows."""
    for start in range(0, len(rows), BATCH):
        run(query, {**params, "rows": list(rows[start : start + BATCH])})


def _relation_row(row: Row) -> RelationRow:
    return RelationRow(
        row[0],
        row[1],
        row[2],
        tuple(row[3] or ()),
        tuple(row[4] or ()),
        tuple(float(w) for w in row[5] or ()),
    )


def _relation_params(rows: Iterable[RelationRow]) -> list[dict[str, Any]]:
    return [
        {
            "source": r.source,
            "target": r.target,
            "type": r.type,
            "chunk_ids": list(r.chunk_ids),
            "weight": r.weight,
            "episode_ids": list(r.episode_ids),
            "episode_weights": [float(w) for w in r.episode_weights],
        }
        for r in rows
    ]


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


def write_episode(run: Run, plan: EpisodePlan) -> None:
    """Replace one episode's part of the graph (inside the caller's transaction)."""
    episode_id = plan.episode["id"]
    delete_episode(run, episode_id)
    run(MERGE_EPISODE, plan.episode)
    batched(run, CREATE_CHUNKS, plan.chunks, episode_id=episode_id)
    batched(run, CREATE_NEXT, plan.next_pairs)
    batched(run, MERGE_SPEAKERS, plan.speakers)
    batched(run, CREATE_SAID, plan.said)
    _write_entities(run, plan.entities)
    batched(run, CREATE_MENTIONS, plan.mentions)
    _write_relations(run, plan.relations)


def _write_entities(run: Run, entities: Sequence[EntityRow]) -> None:
    if not entities:
        return
    existing = {
        r[0]: EntityRow(r[0], r[1], r[2] or "", tuple(r[3] or ()))
        for r in run(GET_ENTITIES, {"keys": [e.key for e in entities]})
    }
    merged = [merge_entity(existing.get(e.key), e) for e in entities]
    rows = [
        {"key": e.key, "name": e.name, "type": e.type, "aliases": list(e.aliases)} for e in merged
    ]
    batched(run, MERGE_ENTITIES, rows)


def _write_relations(run: Run, relations: Sequence[RelationRow]) -> None:
    if not relations:
        return
    ends = sorted({end for r in relations for end in (r.source, r.target)})
    existing = {
        row.ident: row for row in map(_relation_row, run(GET_RELATIONS_AMONG, {"keys": ends}))
    }
    merged = [add_contribution(existing.get(r.ident), r) for r in relations]
    batched(run, SET_RELATIONS, _relation_params(merged))


def delete_episode(run: Run, episode_id: str) -> None:
    """Remove an episode's nodes and evidence, then whatever it alone held up."""
    params = {"episode_id": episode_id}
    chunk_ids = {r[0] for r in run(EPISODE_CHUNK_IDS, params)}
    keys = {r[0] for r in run(EPISODE_ENTITY_KEYS, params)}
    speakers = sorted({r[0] for r in run(EPISODE_SPEAKERS, params)})
    kept: list[RelationRow] = []
    dropped: list[RelationRow] = []
    for row in map(_relation_row, run(EPISODE_RELATIONS, params)):
        keys.update((row.source, row.target))
        left = remove_contribution(row, episode_id, chunk_ids)
        if left is None:
            dropped.append(row)
        else:
            kept.append(left)
    batched(run, DELETE_RELATIONS, _relation_params(dropped))
    batched(run, SET_RELATIONS, _relation_params(kept))
    run(DELETE_CHUNKS, params)
    run(DELETE_EPISODE, params)
    batched(run, DELETE_ORPHAN_ENTITIES, sorted(keys))
    batched(run, DELETE_ORPHAN_SPEAKERS, speakers)


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
        self._write_versioned(lambda run: write_episode(run, plan))

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
        rows = self._read(RELATIONS, {"keys": list(dict.fromkeys(keys))})
        return [
            RelationFact(r[0], r[1], r[2], r[3], r[4], float(r[5] or 0.0), tuple(r[6] or ()))
            for r in rows
        ]
