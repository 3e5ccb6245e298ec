"""The ``flat`` vector backend: chunk vectors in one SQLite file, searched by a scan of them all.

Chroma's HNSW graph finds a query's neighbours by walking from node to node, and beside a
crowd of similar episodes it can fail to reach a chunk that lies apart from them (the 100k
distractor benchmark: vector recall@5 0.025 through HNSW, 0.438 by exact search). This backend
keeps every vector in memory and scores candidates exactly (``_matrix``): nothing stored is
out of reach. Rows are ranked by their cosine about the collection's centre (``_matrix``'s
docstring says why). Memory: 4 bytes per dimension per chunk (205 MB for 100k chunks of 512
dimensions) in each process that searches, plus 1 bit per dimension for the codes.

One file per embedding space, named like Chroma's collections (``vectors/chunks__<model>-<dim>
.sqlite`` under the data directory). Every write bumps a version row in the same transaction;
a search first reads it and, when it moved, reads the rows added and the ids removed since
(a reader in another process sees the writer's changes the same way). ``read_only`` opens the
file ``mode=ro`` (search worker processes); a file not created yet reads as an empty index.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from castgraph.core import faults
from castgraph.core.errors import StorageError
from castgraph.core.models import Chunk
from castgraph.retrieval._sqlite import ADVICE, ThreadConnections
from castgraph.retrieval.base import Hit, SearchFilters
from castgraph.retrieval.embeddings.base import TextEmbedder, batched
from castgraph.retrieval.vector._matrix import Floats, Matrix, Row, unit
from castgraph.retrieval.vector.adopt import chroma_pages
from castgraph.retrieval.vector.chroma import collection_name, day_number

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS chunks (
    row INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    episode_id TEXT NOT NULL,
    language TEXT NOT NULL,
    speakers TEXT NOT NULL,
    day INTEGER NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_episode ON chunks (episode_id);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO state VALUES ('version', 0);
"""
COLUMNS = "row, id, episode_id, language, speakers, day, vector"
BUMP = "UPDATE state SET value = value + 1 WHERE key = 'version'"
INSERT = (
    "INSERT OR REPLACE INTO chunks (id, episode_id, language, speakers, day, vector) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
READ_BATCH = 4096  # rows read at a time when loading: 8 MB of 512-dimension vectors
SEP = "\x1f"  # between a chunk's case-folded speakers: a character no name contains


class FlatVectorIndex:
    """The ``VectorIndex`` port on a local SQLite file and an in-memory matrix (backend
    ``flat``); safe to share between threads: writes hold a lock, searches never wait for one."""

    def __init__(
        self,
        embedder: TextEmbedder,
        *,
        directory: Path,
        read_only: bool = False,
        base: str = "chunks",
        batch_size: int = 64,
        adopt_from: Path | None = None,
    ) -> None:
        self.embedder = embedder
        self.directory = Path(directory)
        self.read_only = read_only
        self.base = base
        self.batch_size = max(1, batch_size)
        self.adopt_from = adopt_from
        self._write_lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._conns: ThreadConnections | None = None
        self._path: Path | None = None
        self._matrix = Matrix.empty()
        self._version = -1

    @property
    def shared(self) -> bool:
        """Always False: a file of this data directory (each ``castgraph serve`` its own)."""
        return False

    @property
    def location(self) -> str:
        return f"flat vector index {self._path or self.directory}"

    def open(self) -> FlatVectorIndex:
        """Load the embedder and open (creating, unless read-only) the file; idempotent."""
        if self._conns is not None:
            return self
        name = collection_name(self.base, self.embedder.name, self.embedder.dimension)
        path = self.directory / f"{name}.sqlite"
        ro = self.read_only
        conns = ThreadConnections(
            f"file:{path}?mode=ro" if ro else path,
            label=f"flat vector index {path}",
            uri=ro,
            pragmas=["PRAGMA query_only = ON"] if ro else [],
        )
        self._path = path
        conns.open()
        self._conns = conns
        if ro:
            return self
        try:
            with self._errors("open"):
                path.parent.mkdir(parents=True, exist_ok=True)
                conns.get().execute("PRAGMA journal_mode = WAL")
                conns.get().executescript(SCHEMA)
            if self.adopt_from is not None:
                self._adopt(self.adopt_from, name)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Close every connection and drop the matrix; idempotent."""
        conns, self._conns = self._conns, None
        if conns is not None:
            conns.close()
        self._matrix, self._version = Matrix.empty(), -1

    # -- writes -----------------------------------------------------------------------------

    def _adopt(self, chroma: Path, name: str) -> None:
        """Copy the vectors of Chroma's collection ``name`` (see ``adopt``) into a file never
        written yet, in one transaction: a copy cut short leaves the file as it was, and the
        next open copies again."""
        if self._stored_version() != 0 or self.count():
            return
        copied = 0
        with self._writing("copy from Chroma") as conn:
            for rows in chroma_pages(chroma, name):
                vectors = unit([r[5] for r in rows])
                conn.executemany(
                    INSERT,
                    [
                        (r[0], r[1], r[2], SEP.join(sorted(r[3])), r[4], v.tobytes())
                        for r, v in zip(rows, vectors, strict=True)
                    ],
                )
                copied += len(rows)
                log.info("copying vectors from Chroma", extra={"copied": copied})
        if copied:
            log.info(
                "vector index filled from Chroma", extra={"vectors": copied, "from": str(chroma)}
            )

    def upsert(self, chunks: Sequence[Chunk]) -> None:
        """Embed and write chunks by id, replacing any with the same id."""
        unique = list({chunk.id: chunk for chunk in chunks}.values())
        for batch in batched(unique, self.batch_size):
            vectors = unit(self.embedder.embed([chunk.text for chunk in batch]))
            values = [_values(c, v.tobytes()) for c, v in zip(batch, vectors, strict=True)]
            with self._writing("upsert") as conn:
                conn.executemany(INSERT, values)
            faults.point("vector")  # per batch: a kill between batches leaves a partial episode

    def delete_episode(self, episode_id: str) -> None:
        """Remove every chunk of an episode (nothing happens when it has none)."""
        with self._writing("delete") as conn:
            conn.execute("DELETE FROM chunks WHERE episode_id = ?", (episode_id,))

    def delete_chunks(self, ids: Sequence[str]) -> None:
        """Remove chunks by id (unknown ids are ignored)."""
        if not ids:
            return
        with self._writing("delete") as conn:
            conn.executemany("DELETE FROM chunks WHERE id = ?", [(i,) for i in ids])

    # -- reads ------------------------------------------------------------------------------

    def chunk_ids(self, episode_id: str) -> set[str]:
        rows = self._fetch("SELECT id FROM chunks WHERE episode_id = ?", (episode_id,))
        return {str(r[0]) for r in rows}

    def has_episode(self, episode_id: str) -> bool:
        return bool(self._fetch("SELECT 1 FROM chunks WHERE episode_id = ? LIMIT 1", (episode_id,)))

    def episode_ids(self) -> set[str]:
        return {str(r[0]) for r in self._fetch("SELECT DISTINCT episode_id FROM chunks")}

    def count(self) -> int:
        rows = self._fetch("SELECT count(*) FROM chunks")
        return int(rows[0][0]) if rows else 0

    def check(self) -> None:
        """Raise StorageError unless the file answers (the health probe)."""
        self._fetch("SELECT value FROM state WHERE key = 'version'")

    def search(self, query: str, k: int, filters: SearchFilters) -> list[Hit]:
        """The ``k`` chunks nearest ``query`` that pass ``filters``; score = cosine about the
        collection's centre (``_matrix``)."""
        if k <= 0 or not query.strip():
            return []
        matrix = self._current()
        if not len(matrix):
            return []
        vector = unit(self.embedder.embed_query(query))
        return [Hit(chunk_id=i, score=s) for i, s in matrix.search(vector, k, filters)]

    def warm(self) -> None:
        """Read every vector into memory now rather than at the first search."""
        self._current()

    # -- internals --------------------------------------------------------------------------

    def _current(self) -> Matrix:
        """The matrix as of the file's current version, refreshed when a write moved it."""
        version = self._stored_version()
        if version is None:
            return Matrix.empty()
        if version == self._version:
            return self._matrix
        with self._refresh_lock:
            if self._version != version:
                self._matrix, self._version = self._refresh(self._matrix)
            return self._matrix

    def _refresh(self, old: Matrix) -> tuple[Matrix, int]:
        """The rows added and removed since ``old``, read in one transaction with the version.
        New vectors are read straight into one array (no second copy of them in memory)."""
        conn = self._connection()
        with self._errors("read"):
            conn.execute("BEGIN")
            try:
                version = conn.execute("SELECT value FROM state WHERE key = 'version'").fetchone()
                added, vectors = self._read_rows(conn, old.last_row)
                if not len(old):  # a first load: every row is new
                    return Matrix.of(added, vectors).prepared(), int(version[0])
                live = np.fromiter(
                    (r[0] for r in conn.execute("SELECT row FROM chunks ORDER BY row")), np.int64
                )
            finally:
                conn.execute("COMMIT")
        return old.refreshed(live, added, vectors).prepared(), int(version[0])

    def _read_rows(self, conn: sqlite3.Connection, after: int) -> tuple[list[Row], Floats]:
        """The rows above ``after`` and their vectors."""
        (count,) = conn.execute("SELECT count(*) FROM chunks WHERE row > ?", (after,)).fetchone()
        vectors = np.empty((count, self.embedder.dimension), np.float32)
        rows: list[Row] = []
        cursor = conn.execute(f"SELECT {COLUMNS} FROM chunks WHERE row > ? ORDER BY row", (after,))
        while batch := cursor.fetchmany(READ_BATCH):
            blobs = b"".join(r[6] for r in batch)  # one copy per batch, not per row
            vectors[len(rows) : len(rows) + len(batch)] = np.frombuffer(blobs, np.float32).reshape(
                len(batch), -1
            )
            rows.extend(_row(r) for r in batch)
        return rows, vectors

    def _stored_version(self) -> int | None:
        """The version row, or None for a read-only index whose file does not exist yet
        (``_fetch`` reads nothing there)."""
        rows = self._fetch("SELECT value FROM state WHERE key = 'version'")
        return int(rows[0][0]) if rows else None

    def _fetch(self, sql: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        if self.read_only and self._path is not None and not self._path.exists():
            return []
        with self._errors("read"):
            return self._connection().execute(sql, tuple(args)).fetchall()

    @contextmanager
    def _writing(self, action: str) -> Iterator[sqlite3.Connection]:
        """A write transaction that also bumps the version, under the write lock."""
        if self.read_only:
            raise StorageError(f"{self.location} is open read-only: {action} refused")
        conn = self._connection()
        with self._write_lock, self._errors(action):
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute(BUMP)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _connection(self) -> sqlite3.Connection:
        if self._conns is None:
            self.open()
        assert self._conns is not None
        return self._conns.get()

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as e:
            raise StorageError(f"{self.location}: {action} failed ({e}); {ADVICE}") from e


def _values(chunk: Chunk, vector: bytes) -> tuple[object, ...]:
    speakers = SEP.join(sorted({s.casefold() for s in chunk.speakers}))
    day = day_number(chunk.published) if chunk.published is not None else 0
    return (chunk.id, chunk.episode_id, chunk.language, speakers, day, vector)


def _row(r: tuple[Any, ...]) -> Row:
    speakers = str(r[4])
    return Row(
        row=int(r[0]),
        chunk_id=str(r[1]),
        episode_id=str(r[2]),
        language=str(r[3]),
        speakers=tuple(speakers.split(SEP)) if speakers else (),
        day=int(r[5]),
    )
