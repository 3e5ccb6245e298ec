"""The SQLite side of the keyword index: schema, row ↔ chunk mapping and generated SQL.

Everything here is pure (no connection): SQL text and the parameters that go with it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date

from castgraph.core.models import Chunk, Sentence
from castgraph.retrieval.base import SearchFilters

SCHEMA_VERSION = "2"
BATCH = 500  # ids per IN (...) list, far below SQLite's variable limit
_SEP = "\x1f"  # delimits case-folded speaker names in ``speaker_keys``

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    rid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    episode_id TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    start_s REAL NOT NULL,
    end_s REAL NOT NULL,
    text TEXT NOT NULL,
    speakers TEXT NOT NULL,
    speaker_keys TEXT NOT NULL,
    language TEXT NOT NULL,
    title TEXT NOT NULL,
    url TEXT NOT NULL,
    published TEXT,
    sentences TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS chunks_episode ON chunks (episode_id, ordinal);
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_terms USING fts5 (
    terms, tokenize = 'ascii', detail = full
);
CREATE TABLE IF NOT EXISTS term_df (term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS totals (
    one INTEGER PRIMARY KEY CHECK (one = 1), docs INTEGER NOT NULL, tokens INTEGER NOT NULL
);
INSERT OR IGNORE INTO totals (one, docs, tokens) VALUES (1, 0, 0);
INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', '{SCHEMA_VERSION}');
"""

COLUMNS = (
    "id, episode_id, ordinal, start_s, end_s, text, speakers, language, title, url, published,"
    " sentences"
)
INSERT_CHUNK = (
    "INSERT INTO chunks (id, episode_id, ordinal, start_s, end_s, text, speakers, speaker_keys,"
    " language, title, url, published, sentences)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING rid"
)
UPGRADES = {
    # schema 1 → 2: chunks keep their sentences (older rows get none until reindexed).
    "1": ("ALTER TABLE chunks ADD COLUMN sentences TEXT NOT NULL DEFAULT '[]'",),
}

Row = tuple[object, ...]


def _speaker_key(name: str) -> str:
    return _SEP + name.replace(_SEP, " ").casefold() + _SEP


def row_of(chunk: Chunk) -> Row:
    """The ``chunks`` table row of ``chunk``, in ``INSERT_CHUNK`` order."""
    return (
        chunk.id,
        chunk.episode_id,
        chunk.ordinal,
        chunk.start,
        chunk.end,
        chunk.text,
        json.dumps(list(chunk.speakers), ensure_ascii=False),
        "".join(_speaker_key(s) for s in chunk.speakers),
        chunk.language,
        chunk.title,
        chunk.url,
        chunk.published.isoformat() if chunk.published else None,
        json.dumps(
            [[x.start, x.end, x.speaker, x.text] for x in chunk.sentences], ensure_ascii=False
        ),
    )


def chunk_of(row: Row) -> Chunk:
    """The chunk of a row selected with ``COLUMNS``."""
    cid, episode_id, ordinal, start, end, text, speakers, language, title, url, published, sents = (
        row
    )
    return Chunk(
        id=str(cid),
        episode_id=str(episode_id),
        ordinal=int(str(ordinal)),
        start=float(str(start)),
        end=float(str(end)),
        text=str(text),
        speakers=tuple(json.loads(str(speakers))),
        language=str(language),
        title=str(title),
        url=str(url),
        published=date.fromisoformat(str(published)) if published else None,
        sentences=tuple(
            Sentence(str(t), float(a), float(b), str(sp) if sp else None)
            for a, b, sp, t in json.loads(str(sents or "[]"))
        ),
    )


def match_expression(terms: Sequence[str]) -> str:
    """An FTS5 MATCH expression that ORs ``terms``, each quoted so none is read as syntax."""
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def placeholders(values: Sequence[object]) -> str:
    """``(?, ?, …)`` with one placeholder per value."""
    return f"({', '.join('?' * len(values))})"


def filter_sql(filters: SearchFilters) -> tuple[str, list[object]]:
    """SQL conditions on ``c`` (the chunks table) equivalent to ``SearchFilters.matches``."""
    clauses: list[str] = []
    params: list[object] = []
    if filters.episode_ids:
        clauses.append(f"c.episode_id IN {placeholders(filters.episode_ids)}")
        params.extend(filters.episode_ids)
    if filters.speakers:
        clauses.append(
            "(" + " OR ".join(["instr(c.speaker_keys, ?)"] * len(filters.speakers)) + ")"
        )
        params.extend(_speaker_key(s) for s in filters.speakers)
    if filters.languages:
        clauses.append(f"c.language IN {placeholders(filters.languages)}")
        params.extend(filters.languages)
    if filters.date_from:
        clauses.append("c.published >= ?")
        params.append(filters.date_from.isoformat())
    if filters.date_to:
        clauses.append("c.published <= ?")
        params.append(filters.date_to.isoformat())
    return " AND ".join(clauses), params


def rank_sql(where: str) -> str:
    """Rows (rid, chunk id, -bm25) best first; parameters: MATCH, filter values, limit."""
    if where:
        # Filters need the chunk row of every match before the limit applies.
        return (
            "SELECT c.rid, c.id, -bm25(chunk_terms) AS s FROM chunk_terms"
            " JOIN chunks c ON c.rid = chunk_terms.rowid"
            f" WHERE chunk_terms MATCH ? AND {where} ORDER BY s DESC, c.rid LIMIT ?"
        )
    # Rank inside FTS5 first and join only the survivors.
    return (
        "SELECT c.rid, c.id, m.s FROM (SELECT rowid, -bm25(chunk_terms) AS s FROM chunk_terms"
        " WHERE chunk_terms MATCH ? ORDER BY s DESC, rowid LIMIT ?) m"
        " JOIN chunks c ON c.rid = m.rowid ORDER BY m.s DESC, c.rid"
    )
