"""The graph read model's SQLite schema, statements and row writes (see ``readmodel``).

Tables hold exactly what graph search reads, each row owned by one episode so that replacing
or deleting an episode is a delete by ``episode_id`` plus an insert:

- ``entities``: key, first-seen name and type, aliases (JSON), mention count (maintained).
- ``postings``: entity → chunk, with the chunk fields ``SearchFilters`` reads, denormalised
  (episode language and date included) so a search reads one index range per entity.
- ``relations``: one row per (edge, episode) contribution, evidence chunk ids joined; an edge's
  weight is the sum of its rows in rowid order, which is the order the graph stores append
  contributions in, so the sums agree bit for bit. Deleting an episode deletes exactly its rows.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter

from castgraph.retrieval.graph.plan import EntityRow, EpisodePlan, merge_entity

SCHEMA_VERSION = "1"
SEPARATOR = "\x1f"
"""Joins speaker names, and relation evidence chunk ids, in one column (the ASCII unit separator
never occurs in either)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS episodes (id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS entities (
    key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    aliases TEXT NOT NULL,
    mentions INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS postings (
    key TEXT NOT NULL,
    chunk_id TEXT NOT NULL,
    episode_id TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    start REAL NOT NULL,
    "end" REAL NOT NULL,
    speakers TEXT NOT NULL,
    language TEXT,
    published TEXT,
    PRIMARY KEY (key, chunk_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS postings_episode ON postings (episode_id);
CREATE TABLE IF NOT EXISTS relations (
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    type TEXT NOT NULL,
    episode_id TEXT NOT NULL,
    weight REAL NOT NULL,
    chunk_ids TEXT NOT NULL,
    UNIQUE (source, target, type, episode_id)
);
CREATE INDEX IF NOT EXISTS relations_target ON relations (target);
CREATE INDEX IF NOT EXISTS relations_episode ON relations (episode_id);
"""
TABLES = ("meta", "episodes", "entities", "postings", "relations")

GET_META = "SELECT value FROM meta WHERE name = ?"
SET_META = (
    "INSERT INTO meta (name, value) VALUES (?, ?) "
    "ON CONFLICT (name) DO UPDATE SET value = excluded.value"
)

INSERT_EPISODE = "INSERT OR IGNORE INTO episodes (id) VALUES (?)"
DELETE_EPISODE = "DELETE FROM episodes WHERE id = ?"
HAS_EPISODE = "SELECT 1 FROM episodes WHERE id = ?"
EPISODE_IDS = "SELECT id FROM episodes"

# ON CONFLICT … DO UPDATE keeps the row (and its rowid: entities() lists in first-seen order,
# as the memory store does) where INSERT OR REPLACE would move it to the end.
UPSERT_ENTITY = (
    "INSERT INTO entities (key, name, type, aliases, mentions) VALUES (?, ?, ?, ?, 0) "
    "ON CONFLICT (key) DO UPDATE SET name = excluded.name, type = excluded.type, "
    "aliases = excluded.aliases"
)
ADD_MENTIONS = "UPDATE entities SET mentions = mentions + ? WHERE key = ?"
DELETE_ORPHAN = (
    "DELETE FROM entities WHERE key = ?1 AND mentions <= 0 "
    "AND NOT EXISTS (SELECT 1 FROM relations WHERE source = ?1) "
    "AND NOT EXISTS (SELECT 1 FROM relations WHERE target = ?1)"
)
GET_ENTITY = "SELECT key, name, type, aliases FROM entities WHERE key = ?"
ENTITIES = "SELECT key, name, type, aliases, mentions FROM entities ORDER BY rowid"

INSERT_POSTING = (
    'INSERT INTO postings (key, chunk_id, episode_id, ordinal, start, "end", speakers, language, '
    "published) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
EPISODE_MENTION_COUNTS = "SELECT key, count(*) FROM postings WHERE episode_id = ? GROUP BY key"
DELETE_POSTINGS = "DELETE FROM postings WHERE episode_id = ?"
POSTING_COLUMNS = 'key, chunk_id, episode_id, ordinal, start, "end", speakers, language, published'

INSERT_RELATION = (
    "INSERT INTO relations (source, target, type, episode_id, weight, chunk_ids) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
EPISODE_RELATION_ENDS = "SELECT source, target FROM relations WHERE episode_id = ?"
DELETE_RELATIONS = "DELETE FROM relations WHERE episode_id = ?"
RELATIONS = (
    "SELECT r.source, a.name, r.target, b.name, r.type, r.weight, r.chunk_ids FROM relations r "
    "JOIN entities a ON a.key = r.source JOIN entities b ON b.key = r.target "
    "WHERE r.source = ?1 OR r.target = ?1 ORDER BY r.rowid"
)
# What graph search weighs an entity's neighbours by: no names, no evidence (rowid order, as the
# stores append contributions; the sums are math.fsum, exact in any order).
EDGE_WEIGHTS = (
    "SELECT source, target, type, weight FROM relations "
    "WHERE source = ?1 OR target = ?1 ORDER BY rowid"
)

COUNTS = {
    "episodes": "SELECT count(*) FROM episodes",
    "entities": "SELECT count(*) FROM entities",
    "mentions": "SELECT count(*) FROM postings",
    "relations": "SELECT count(*) FROM (SELECT DISTINCT source, target, type FROM relations)",
}


def insert_rows(conn: sqlite3.Connection, plan: EpisodePlan) -> None:
    """The plan's rows (the episode's old ones are already gone)."""
    episode = plan.episode
    episode_id = str(episode["id"])
    published = episode["published"].isoformat() if episode["published"] else None
    conn.execute(INSERT_EPISODE, (episode_id,))
    for entity in plan.entities:
        merged = _merged(conn, entity)
        aliases = json.dumps(list(merged.aliases), ensure_ascii=False)
        conn.execute(UPSERT_ENTITY, (merged.key, merged.name, merged.type, aliases))
    chunks = {str(c["id"]): c for c in plan.chunks}
    postings = [
        (
            m["key"],
            m["chunk"],
            episode_id,
            chunks[m["chunk"]]["ordinal"],
            chunks[m["chunk"]]["start"],
            chunks[m["chunk"]]["end"],
            SEPARATOR.join(chunks[m["chunk"]]["speakers"]),
            episode["language"],
            published,
        )
        for m in plan.mentions
    ]
    conn.executemany(INSERT_POSTING, postings)
    counts = Counter(m["key"] for m in plan.mentions)
    conn.executemany(ADD_MENTIONS, [(n, key) for key, n in counts.items()])
    relations = [
        (r.source, r.target, r.type, episode_id, r.weight, SEPARATOR.join(r.chunk_ids))
        for r in plan.relations
    ]
    conn.executemany(INSERT_RELATION, relations)


def _merged(conn: sqlite3.Connection, entity: EntityRow) -> EntityRow:
    """``entity`` merged into the stored row of its key, as the graph stores merge nodes."""
    row = conn.execute(GET_ENTITY, (entity.key,)).fetchone()
    existing = None if row is None else EntityRow(row[0], row[1], row[2], tuple(json.loads(row[3])))
    return merge_entity(existing, entity)


def delete_rows(conn: sqlite3.Connection, episode_id: str) -> None:
    """Remove the episode's postings and contributions, then entities left with neither."""
    params = (episode_id,)
    counts = conn.execute(EPISODE_MENTION_COUNTS, params).fetchall()
    conn.executemany(ADD_MENTIONS, [(-int(n), key) for key, n in counts])
    conn.execute(DELETE_POSTINGS, params)
    ends = conn.execute(EPISODE_RELATION_ENDS, params).fetchall()
    conn.execute(DELETE_RELATIONS, params)
    candidates = {str(k) for k, _ in counts} | {str(e) for pair in ends for e in pair}
    conn.executemany(DELETE_ORPHAN, [(key,) for key in sorted(candidates)])
    conn.execute(DELETE_EPISODE, params)
