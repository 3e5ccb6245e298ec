"""The Cypher that writes one episode: a few batched statements shared by LadybugDB and Neo4j.

Every node is found by primary key (LadybugDB's hash index, Neo4j's uniqueness constraints) and
a new episode's write reads nothing that grows with the graph, so its statements cost the same
at 1k and at 100k chunks (what still grows on LadybugDB is its checkpoints). Why the statements
look the way they do (measured on LadybugDB 0.22; see docs/decisions.md, issue 12):

- **One node pattern per MATCH.** ``UNWIND $rows AS r MATCH (a:Chunk {id: r.a}), (b:Chunk
  {id: r.b})`` is planned as a cross product of two full table scans (it grew with the graph
  and made indexing quadratic); ``MATCH (a:Chunk {id: r.a}) MATCH (b:Chunk {id: r.b})`` is two
  primary-key lookups. ``WHERE x.key IN $keys`` scans too; ``UNWIND`` + ``{key: k}`` does not.
- **Each episode writes its own RELATED edges** (``CREATE``, nothing read): one per
  (source, target, type) it evidences, holding its chunk ids and weight. A single edge shared by
  every episode (as before issue 12) had to be read, extended and rewritten by each of them:
  a common relation's evidence list grows with the corpus, and rewriting it (and LadybugDB's
  checkpoints rewriting the table) made every upsert slower than the last. Readers sum the
  edges of a relation (``cypher.relation_facts``), so ``GraphStore.relations`` is unchanged.
- **Deleting reaches relations from their endpoints**: the entity keys the episode stores
  (``Episode.entity_keys``), not a filter over every edge's episode list. (LadybugDB still
  hash-joins a scan of the RELATED table for a relationship pattern, whatever the pattern; Neo4j
  seeks and expands.) Its own edges are deleted; a shared edge from an older database loses its
  contribution (``plan``), as before. An episode written before ``entity_keys`` existed (null)
  is found by the old scans.
- Node ``MERGE`` (speakers, entities) is kept: those tables are small (thousands of rows, not
  the chunks' hundreds of thousands), and it is what makes concurrent Neo4j writers safe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from castgraph.retrieval.graph.plan import (
    EntityRow,
    EpisodePlan,
    RelationRow,
    merge_entity,
    remove_contribution,
)

Row = list[Any]
Run = Callable[[str, Mapping[str, Any]], list[Row]]
"""Runs one statement inside the current transaction and returns its rows."""

BATCH = 2000
"""Rows per UNWIND statement: bounds the parameter size of very long episodes."""

_RELATION_COLUMNS = "a.key, b.key, r.type, r.chunk_ids, r.episode_ids, r.episode_weights"
CREATE_EPISODE = (
    "CREATE (:Episode {id: $id, title: $title, url: $url, published: $published, "
    "language: $language, entity_keys: $entity_keys})"
)
CREATE_CHUNKS = (
    "MATCH (e:Episode {id: $episode_id}) UNWIND $rows AS r "
    "CREATE (c:Chunk {id: r.id, episode_id: $episode_id, ordinal: r.ordinal, start: r.start, "
    "`end`: r.`end`, text: r.text, speakers: r.speakers})-[:`IN`]->(e)"
)
CREATE_NEXT = (
    "UNWIND $rows AS r MATCH (a:Chunk {id: r.a}) MATCH (b:Chunk {id: r.b}) CREATE (a)-[:NEXT]->(b)"
)
MERGE_SPEAKERS = "UNWIND $rows AS n MERGE (:Speaker {name: n})"
CREATE_SAID = (
    "UNWIND $rows AS r MATCH (s:Speaker {name: r.speaker}) MATCH (c:Chunk {id: r.chunk}) "
    "CREATE (s)-[:SAID]->(c)"
)
GET_ENTITIES = "UNWIND $rows AS k MATCH (x:Entity {key: k}) RETURN x.key, x.name, x.type, x.aliases"
MERGE_ENTITIES = (
    "UNWIND $rows AS r MERGE (x:Entity {key: r.key}) "
    "SET x.name = r.name, x.type = r.type, x.aliases = r.aliases"
)
CREATE_MENTIONS = (
    "UNWIND $rows AS r MATCH (x:Entity {key: r.key}) MATCH (c:Chunk {id: r.chunk}) "
    "CREATE (x)-[:MENTIONED_IN]->(c)"
)
CREATE_RELATIONS = (
    "UNWIND $rows AS x MATCH (a:Entity {key: x.source}) MATCH (b:Entity {key: x.target}) "
    "CREATE (a)-[:RELATED {type: x.type, chunk_ids: x.chunk_ids, weight: x.weight, "
    "episode_ids: x.episode_ids, episode_weights: x.episode_weights}]->(b)"
)
UPDATE_SHARED_RELATIONS = (
    "UNWIND $rows AS x MATCH (a:Entity {key: x.source}) MATCH (b:Entity {key: x.target}) "
    "MATCH (a)-[r:RELATED]->(b) WHERE r.type = x.type AND $episode_id IN r.episode_ids "
    "SET r.chunk_ids = x.chunk_ids, r.weight = x.weight, r.episode_ids = x.episode_ids, "
    "r.episode_weights = x.episode_weights"
)
DELETE_OWN_RELATIONS = (
    "UNWIND $rows AS k MATCH (:Entity {key: k})-[r:RELATED]->(:Entity) "
    "WHERE $episode_id IN r.episode_ids AND size(r.episode_ids) = 1 DELETE r"
)

EPISODE_ENTITY_KEYS = "MATCH (e:Episode {id: $episode_id}) RETURN e.entity_keys"
EPISODE_RELATIONS = (
    "UNWIND $rows AS k MATCH (a:Entity {key: k})-[r:RELATED]->(b:Entity) "
    f"WHERE $episode_id IN r.episode_ids RETURN {_RELATION_COLUMNS}"
)
EPISODE_CHUNK_IDS = "MATCH (c:Chunk)-[:`IN`]->(:Episode {id: $episode_id}) RETURN c.id"
EPISODE_SPEAKERS = (
    "MATCH (s:Speaker)-[:SAID]->(:Chunk)-[:`IN`]->(:Episode {id: $episode_id}) "
    "RETURN DISTINCT s.name"
)
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

# An episode written before it kept its entity keys: found by scanning (once, on its deletion).
LEGACY_ENTITY_KEYS = (
    "MATCH (x:Entity)-[:MENTIONED_IN]->(:Chunk)-[:`IN`]->(:Episode {id: $episode_id}) "
    "RETURN DISTINCT x.key"
)
LEGACY_RELATIONS = (
    "MATCH (a:Entity)-[r:RELATED]->(b:Entity) WHERE $episode_id IN r.episode_ids "
    f"RETURN {_RELATION_COLUMNS}"
)


def batched(run: Run, query: str, rows: Sequence[Any], **params: Any) -> list[Row]:
    """Run ``query`` with ``$rows`` in slices of ``BATCH``; its rows; nothing for no rows."""
    found: list[Row] = []
    for start in range(0, len(rows), BATCH):
        found.extend(run(query, {**params, "rows": list(rows[start : start + BATCH])}))
    return found


def relation_row(row: Row) -> RelationRow:
    """A RELATED edge read with ``_RELATION_COLUMNS``."""
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
    run(CREATE_EPISODE, {**plan.episode, "entity_keys": [e.key for e in plan.entities]})
    batched(run, CREATE_CHUNKS, plan.chunks, episode_id=episode_id)
    batched(run, CREATE_NEXT, plan.next_pairs)
    batched(run, MERGE_SPEAKERS, plan.speakers)
    batched(run, CREATE_SAID, plan.said)
    _write_entities(run, plan.entities)
    batched(run, CREATE_MENTIONS, plan.mentions)
    _write_relations(run, plan.relations)


def _write_entities(run: Run, entities: Sequence[EntityRow]) -> None:
    existing = {
        r[0]: EntityRow(r[0], r[1], r[2] or "", tuple(r[3] or ()))
        for r in batched(run, GET_ENTITIES, [e.key for e in entities])
    }
    merged = [merge_entity(existing.get(e.key), e) for e in entities]
    rows = [
        {"key": e.key, "name": e.name, "type": e.type, "aliases": list(e.aliases)} for e in merged
    ]
    batched(run, MERGE_ENTITIES, rows)


def _write_relations(run: Run, relations: Sequence[RelationRow]) -> None:
    """The episode's own RELATED edges: created, never merged into other episodes' edges."""
    batched(run, CREATE_RELATIONS, _relation_params(relations))


def delete_episode(run: Run, episode_id: str) -> None:
    """Remove an episode's nodes and evidence, then whatever it alone held up."""
    params = {"episode_id": episode_id}
    found = run(EPISODE_ENTITY_KEYS, params)
    if not found:
        return  # never written, or already deleted: nothing of it is in the graph
    chunk_ids = {r[0] for r in run(EPISODE_CHUNK_IDS, params)}
    speakers = sorted({r[0] for r in run(EPISODE_SPEAKERS, params)})
    if found[0][0] is None:
        keys = {r[0] for r in run(LEGACY_ENTITY_KEYS, params)}
        rows = run(LEGACY_RELATIONS, params)
    else:
        keys = set(found[0][0])
        rows = batched(run, EPISODE_RELATIONS, sorted(keys), episode_id=episode_id)
    relations = list(map(relation_row, rows))
    keys.update(end for row in relations for end in (row.source, row.target))
    # Shared edges (written before issue 12) keep the other episodes' contributions.
    shared = [remove_contribution(r, episode_id, chunk_ids) for r in relations]
    kept = [row for row in shared if row is not None]
    sources = sorted({row.source for row in relations})
    batched(run, DELETE_OWN_RELATIONS, sources, episode_id=episode_id)
    batched(run, UPDATE_SHARED_RELATIONS, _relation_params(kept), episode_id=episode_id)
    run(DELETE_CHUNKS, params)
    run(DELETE_EPISODE, params)
    batched(run, DELETE_ORPHAN_ENTITIES, sorted(keys))
    batched(run, DELETE_ORPHAN_SPEAKERS, speakers)
