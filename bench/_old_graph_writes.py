"""The graph write path before issue 12, kept only as the baseline of ``bench/index_build.py``.

Copied from ``castgraph/retrieval/graph/cypher.py`` as it was: the same batched UNWIND
statements, but several node patterns per MATCH (planned by LadybugDB as a cross product of
full table scans), relationship MERGE, ``IN $keys`` filters and a scan of every RELATED edge on
each upsert. ``install()`` swaps it in for the current path (``--graph-writes old``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from castgraph.retrieval.graph.cypher_write import Row, Run
from castgraph.retrieval.graph.plan import (
    EntityRow,
    EpisodePlan,
    RelationRow,
    add_contribution,
    merge_entity,
    remove_contribution,
)

BATCH = 1000
"""Rows per UNWIND statement: bounds the parameter size of very long episodes."""

_BY_EPISODE = "(:Chunk)-[:`IN`]->(:Episode {id: $episode_id})"
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


def install() -> list[Any]:
    """Make every Cypher store write with this path; returns the patches (``stop()`` each)."""
    from unittest import mock

    from castgraph.retrieval.graph import cypher

    patches: list[Any] = [
        mock.patch.object(cypher, "write_episode", write_episode),
        mock.patch.object(cypher, "delete_episode", delete_episode),
    ]
    for patch in patches:
        patch.start()
    return patches
