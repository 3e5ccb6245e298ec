"""The graph read model: what graph search reads, in SQLite tables beside the keyword index.

The graph store stays the source of the knowledge graph (Cypher, pages, provenance); this
model is derived from the same ``EpisodeDocument``s through the same planning
(``plan.plan_episode``, ``plan.merge_entity``), so it agrees with the graph, and it is kept
up to date incrementally by the indexer (``upsert_episode``/``delete_episode``), rebuilt by
``castgraph reindex`` and, when missing, from the catalog at start (``reconcile``).

Why SQLite rather than memory: it opens instantly at any size (no graph scan at start), every
process that serves search (serve replicas in queue mode, a read-only ``castgraph search``)
reads the same file, and WAL lets each thread read through its own connection without waiting
for the others or for the writer. A search reads in one snapshot (``snapshot()``), so a write
landing mid-search is seen entirely or not at all.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from castgraph.core import faults
from castgraph.core.errors import StorageError
from castgraph.core.models import EpisodeDocument
from castgraph.retrieval._sqlite import ThreadConnections
from castgraph.retrieval.graph import readmodel_sql as sql
from castgraph.retrieval.graph.base import (
    GraphChunk,
    GraphEntity,
    GraphStats,
    Mention,
    RelationFact,
)
from castgraph.retrieval.graph.plan import plan_episode

log = logging.getLogger(__name__)

Row = tuple[Any, ...]
MAX_CACHED = 500_000
"""Chunk records and relation rows a cache may hold before it starts again (about 60 MB)."""
_NOT_YET = ("unable to open database file", "no such table")
ADVICE = "delete the file and restart castgraph (or run `castgraph reindex`) to rebuild it"


class GraphReadModel:
    """Entities, entity → chunk postings and RELATED weights in one SQLite file.

    A ``GraphSearchReader`` and a ``GraphWriter``; safe to share between threads: each thread
    reads through its own connection, writes are serialised by a lock. A read-only model never
    writes (not even its schema); ``ready`` says whether the file holds this schema version.
    """

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self.ready = False
        self._write_lock = threading.Lock()
        self._local = threading.local()  # this thread's snapshot depth
        target = f"file:{self.path}?mode=ro" if read_only else str(self.path)
        self._conns = ThreadConnections(
            target, label=f"graph read model {self.path}", uri=read_only
        )
        # Replaced whole (never locked) when the version read differs: see ``_Cache``.
        self._cache = _Cache("")

    # ------------------------------------------------------------------------ lifecycle

    def open(self) -> GraphReadModel:
        """Create the file and schema when writable (a file of another schema version is
        emptied: it is rebuilt from the catalog); returns ``self``."""
        with self._errors("open"):
            if not self.read_only:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conns.open()
            try:
                if not self.read_only:
                    self._create()
                self.ready = self._meta("schema") == sql.SCHEMA_VERSION
            except BaseException:
                self.close()
                raise
        return self

    def _create(self) -> None:
        conn = self._connection()
        conn.execute("PRAGMA journal_mode = WAL")
        with self._write_lock:
            conn.executescript(sql.SCHEMA)
            if self._meta("schema") not in (None, sql.SCHEMA_VERSION):
                log.warning("graph read model of another version: emptied, to be rebuilt")
                conn.executescript("".join(f"DROP TABLE {t};" for t in sql.TABLES))
                conn.executescript(sql.SCHEMA)
            conn.execute(sql.SET_META, ("schema", sql.SCHEMA_VERSION))

    def close(self) -> None:
        """Close every thread's connection; safe to call twice."""
        self._conns.close()

    def __enter__(self) -> GraphReadModel:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------ writes

    def upsert_episode(self, document: EpisodeDocument) -> None:
        """Replace the episode's rows in one transaction (what ``GraphStore`` does to the graph)."""
        plan = plan_episode(document)
        with self._write("upsert episode") as conn:
            sql.delete_rows(conn, document.episode.id)
            sql.insert_rows(conn, plan)
            faults.point("graph-read-model-uncommitted")
        faults.point("graph-read-model")

    def delete_episode(self, episode_id: str) -> None:
        """Remove the episode's rows and the entities only it held up."""
        with self._write("delete episode") as conn:
            sql.delete_rows(conn, episode_id)

    def clear(self) -> None:
        """Remove every row (before a rebuild from the catalog)."""
        with self._write("clear") as conn:
            for table in sql.TABLES[1:]:
                conn.execute(f"DELETE FROM {table}")

    # ------------------------------------------------------------------------ reads

    def version(self) -> str:
        """A token replaced by every write (also by another process's)."""
        return self._meta("version") or ""

    def stats(self) -> GraphStats:
        """Episodes, entities, mentions and relations (the rest is only in the graph)."""
        counts = {name: int(self._fetch(q)[0][0]) for name, q in sql.COUNTS.items()}
        return GraphStats(**counts)

    def check(self) -> None:
        """Raise StorageError unless the file answers a read (the health probe)."""
        self._fetch(sql.GET_META, ("version",))

    def has_episode(self, episode_id: str) -> bool:
        """Whether the episode's rows are here."""
        return bool(self._fetch(sql.HAS_EPISODE, (episode_id,)))

    def episode_ids(self) -> set[str]:
        """Every episode id held."""
        return {str(r[0]) for r in self._fetch(sql.EPISODE_IDS)}

    def entities(self) -> list[GraphEntity]:
        """Every entity with its mention count, in first-seen order."""
        return [
            GraphEntity(str(k), str(n), str(t), tuple(json.loads(a)), int(m))
            for k, n, t, a, m in self._fetch(sql.ENTITIES)
        ]

    def mentions(self, keys: Sequence[str]) -> list[Mention]:
        """The chunks mentioning any of ``keys`` (keys in the order given)."""
        with self.snapshot():  # the version and the rows it caches come from one state
            return self._mentions(keys)

    def _mentions(self, keys: Sequence[str]) -> list[Mention]:
        # Not kept per key: graph search keeps each entity's postings itself, once per version
        # (``scoring.SearchCache``); only the chunk records are shared.
        cache = self._cached()
        found: list[Mention] = []
        sql_postings = f"SELECT {sql.POSTING_COLUMNS} FROM postings WHERE key = ?"
        for key in dict.fromkeys(keys):
            found.extend(Mention(key, cache.chunk(r)) for r in self._fetch(sql_postings, (key,)))
        return found

    def relations(self, keys: Sequence[str]) -> list[RelationFact]:
        """The RELATED edges touching any of ``keys``: each edge's episode contributions summed
        exactly (weights, ``math.fsum``) and their evidence in chunk id order, as in the stores."""
        with self.snapshot():
            return self._relations(keys)

    def _relations(self, keys: Sequence[str]) -> list[RelationFact]:
        cache = self._cached()
        found: dict[tuple[str, str, str], RelationFact] = {}
        for key in dict.fromkeys(keys):
            facts = cache.relations.get(key)
            if facts is None:
                facts = cache.keep(key, _facts(self._fetch(sql.RELATIONS, (key,))))
            found.update(((f.source_key, f.target_key, f.type), f) for f in facts)
        return list(found.values())

    def edge_weights(self, key: str) -> list[tuple[str, str, float]]:
        """(other end, type, weight) of every RELATED edge touching ``key``: what graph search
        weighs neighbours by, without the names and evidence ``relations`` builds."""
        edges: dict[tuple[str, str, str], list[float]] = {}  # an edge each way is two edges
        for source, target, kind, weight in self._fetch(sql.EDGE_WEIGHTS, (key,)):
            edges.setdefault((str(source), str(target), str(kind)), []).append(float(weight))
        return [
            (target if source == key else source, kind, math.fsum(weights))
            for (source, target, kind), weights in edges.items()
        ]

    def _cached(self) -> _Cache:
        """The cache of the version this thread reads (a new one when another version is read)."""
        version, cache = self.version(), self._cache
        if cache.version != version or cache.size > MAX_CACHED:
            cache = self._cache = _Cache(version)
        return cache

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every read of this thread inside sees one state of the file (nesting is allowed)."""
        conn = self._connection()
        depth = getattr(self._local, "depth", 0)
        if depth == 0:
            with self._errors("begin a read"):
                conn.execute("BEGIN")
        self._local.depth = depth + 1
        try:
            yield
        finally:
            self._local.depth = depth
            if depth == 0 and conn.in_transaction:
                conn.execute("COMMIT")

    # ------------------------------------------------------------------------ plumbing

    def _meta(self, name: str) -> str | None:
        rows = self._fetch(sql.GET_META, (name,))
        return str(rows[0][0]) if rows else None

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StorageError(
                f"graph read model {self.path}: {action} failed ({exc}); {ADVICE}"
            ) from exc

    def _connection(self) -> sqlite3.Connection:
        return self._conns.get()

    def _fetch(self, query: str, params: Sequence[object] = ()) -> list[Row]:
        try:
            return list(self._connection().execute(query, params).fetchall())
        except sqlite3.OperationalError as exc:
            # A read-only model over a file no writer has created yet reads as empty.
            if self.read_only and str(exc).startswith(_NOT_YET):
                return []
            raise StorageError(
                f"graph read model {self.path}: read failed ({exc}); {ADVICE}"
            ) from exc
        except sqlite3.Error as exc:
            raise StorageError(
                f"graph read model {self.path}: read failed ({exc}); {ADVICE}"
            ) from exc

    @contextmanager
    def _write(self, action: str) -> Iterator[sqlite3.Connection]:
        if self.read_only:
            raise StorageError(f"graph read model {self.path} was opened read-only")
        with self._errors(action), self._write_lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute(sql.SET_META, ("version", uuid.uuid4().hex))
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")


class _Cache:
    """Relations of one version of the file, per entity key, and the chunk records postings
    share (one per chunk, whichever entities mention it).

    Readers share it without a lock: entries are only added (a racing reader at worst reads a
    key twice), and a reader that sees another version, or a cache grown past ``MAX_CACHED``
    rows, replaces the whole object, which readers still holding the old one keep using.
    """

    def __init__(self, version: str) -> None:
        self.version = version
        self.size = 0
        self.relations: dict[str, list[RelationFact]] = {}
        self._chunks: dict[str, GraphChunk] = {}
        self._dates: dict[str | None, date | None] = {None: None}

    def keep(self, key: str, facts: list[RelationFact]) -> list[RelationFact]:
        self.relations[key] = facts
        self.size += len(facts) + 1
        return facts

    def chunk(self, row: Row) -> GraphChunk:
        """The chunk record of a postings row (made once per chunk)."""
        found = self._chunks.get(row[1])
        if found is None:
            published = row[8]
            if published not in self._dates:
                self._dates[published] = date.fromisoformat(published)
            speakers = row[6]
            found = GraphChunk(
                row[1],
                row[2],
                row[3],
                row[4],
                row[5],
                tuple(speakers.split(sql.SEPARATOR)) if speakers else (),
                row[7],
                self._dates[published],
            )
            self._chunks[row[1]] = found
            self.size += 1
        return found


def _facts(rows: list[Row]) -> list[RelationFact]:
    """Edges from contribution rows: weights summed exactly (``math.fsum``, so the total does
    not depend on the order, as in every graph store) and evidence in chunk id order."""
    edges: dict[tuple[str, str, str], tuple[Row, list[float], list[str]]] = {}
    for r in rows:
        ident = (r[0], r[2], r[4])
        _, weights, chunks = edges.setdefault(ident, (r, [], []))
        weights.append(r[5])
        if r[6]:
            chunks.extend(r[6].split(sql.SEPARATOR))
    return [
        RelationFact(h[0], h[1], h[2], h[3], h[4], math.fsum(weights), tuple(sorted(chunks)))
        for h, weights, chunks in edges.values()
    ]


def reconcile(
    model: GraphReadModel,
    wanted: set[str],
    document: Callable[[str], EpisodeDocument | None],
) -> tuple[int, int]:
    """Bring ``model`` to the episodes ``wanted`` (those the graph holds), writing each missing
    one from ``document`` (the catalog's); returns (episodes written, episodes removed)."""
    held = model.episode_ids()
    written = 0
    for episode_id in sorted(wanted - held):
        found = document(episode_id)
        if found is not None:
            model.upsert_episode(found)
            written += 1
    stale = sorted(held - wanted)
    for episode_id in stale:
        model.delete_episode(episode_id)
    if written or stale:
        log.info("graph read model reconciled", extra={"written": written, "removed": len(stale)})
    return written, len(stale)
