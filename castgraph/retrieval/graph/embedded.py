"""The embedded graph store: LadybugDB (the maintained Kùzu fork), one database file on disk.

One read-write process per database: LadybugDB locks the file, and a second writer fails with
"Could not set lock on file", raised here as ``LockedError``. Read-only openers may share it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from castgraph.core.errors import DependencyError, LockedError, StorageError
from castgraph.retrieval.graph.cypher import CypherGraphStore, Row, Run

if TYPE_CHECKING:
    import ladybug

log = logging.getLogger(__name__)

# Kùzu needs typed tables; ``IF NOT EXISTS`` makes opening an existing database a no-op.
SCHEMA = (
    "CREATE NODE TABLE IF NOT EXISTS Episode(id STRING PRIMARY KEY, title STRING, url STRING, "
    "published DATE, language STRING)",
    "CREATE NODE TABLE IF NOT EXISTS Chunk(id STRING PRIMARY KEY, episode_id STRING, "
    "ordinal INT64, start DOUBLE, `end` DOUBLE, text STRING, speakers STRING[])",
    "CREATE NODE TABLE IF NOT EXISTS Speaker(name STRING PRIMARY KEY)",
    "CREATE NODE TABLE IF NOT EXISTS Entity(key STRING PRIMARY KEY, name STRING, type STRING, "
    "aliases STRING[])",
    "CREATE NODE TABLE IF NOT EXISTS GraphMeta(id STRING PRIMARY KEY, version STRING)",
    "CREATE REL TABLE IF NOT EXISTS `IN`(FROM Chunk TO Episode)",
    "CREATE REL TABLE IF NOT EXISTS NEXT(FROM Chunk TO Chunk)",
    "CREATE REL TABLE IF NOT EXISTS SAID(FROM Speaker TO Chunk)",
    "CREATE REL TABLE IF NOT EXISTS MENTIONED_IN(FROM Entity TO Chunk)",
    "CREATE REL TABLE IF NOT EXISTS RELATED(FROM Entity TO Entity, type STRING, "
    "chunk_ids STRING[], weight DOUBLE, episode_ids STRING[], episode_weights DOUBLE[])",
)


def _import_ladybug() -> Any:
    try:
        import ladybug
    except ImportError as exc:
        raise DependencyError("ladybug", install="run  pip install ladybug  to enable it") from exc
    return ladybug


class EmbeddedGraphStore(CypherGraphStore):
    """A LadybugDB database at ``path`` (a file; its folder is created when writable).

    A read-only store sees the database as it was when opened, so it reopens it whenever the
    files changed since (a writer committed); before a writer has created the database, it
    reads as an empty graph.
    """

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._db: ladybug.Database | None = None
        self._conn: ladybug.Connection | None = None
        self._opened = False
        self._signature: tuple[tuple[int, int] | None, ...] = ()
        # One connection serves every thread: statements and transactions must not interleave.
        self._lock = threading.RLock()

    def open(self) -> EmbeddedGraphStore:
        """Open (creating the database and its schema when writable); returns ``self``."""
        with self._lock:
            if self._opened:
                return self
            _import_ladybug()
            if self.read_only:
                self._refresh()
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._connect()
                try:
                    for statement in SCHEMA:
                        self._execute(statement, {})
                except StorageError:
                    self._disconnect()
                    raise
            self._opened = True
        return self

    def _connect(self) -> None:
        lb = _import_ladybug()
        try:
            self._db = lb.Database(str(self.path), read_only=self.read_only)
            self._conn = lb.Connection(self._db)
        except RuntimeError as exc:
            self._db = self._conn = None
            raise self._open_error(exc) from exc

    def _files_signature(self) -> tuple[tuple[int, int] | None, ...]:
        signature: list[tuple[int, int] | None] = []
        for file in (self.path, self.path.with_name(self.path.name + ".wal")):
            try:
                stat = file.stat()
            except FileNotFoundError:
                signature.append(None)
            else:
                signature.append((stat.st_size, stat.st_mtime_ns))
        return tuple(signature)

    def _refresh(self) -> None:
        """Read-only: reopen when a writer changed the files since we opened them."""
        signature = self._files_signature()
        if signature == self._signature and (self._conn is not None or signature[0] is None):
            return
        self._disconnect()
        if signature[0] is not None:
            self._connect()
        self._signature = signature

    def _open_error(self, exc: RuntimeError) -> StorageError:
        if "Could not set lock" in str(exc):
            return LockedError(
                f"the graph database {self.path} is open for writing by another process "
                f"({exc}). Only one process may write a data directory: stop the other "
                "castgraph server or worker, send the command through its API, or open the "
                "graph read-only."
            )
        return StorageError(f"cannot open the graph database {self.path}: {exc}")

    def close(self) -> None:
        """Close the connection and database (releasing the file lock); safe to call twice."""
        with self._lock:
            self._opened = False
            self._disconnect()

    def _disconnect(self) -> None:
        conn, db = self._conn, self._db
        self._conn = self._db = None
        try:
            if conn is not None:
                conn.close()
            if db is not None:
                db.close()
        except RuntimeError as exc:
            raise StorageError(f"closing the graph database {self.path} failed: {exc}") from exc

    def __enter__(self) -> EmbeddedGraphStore:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _execute(self, query: str, params: Mapping[str, Any]) -> list[Row]:
        if self._conn is None:
            raise StorageError("the graph store is not open (call open() first)")
        try:
            result = self._conn.execute(query, dict(params))
            if isinstance(result, list):
                result = result[-1]
            rows = result.get_all()
            result.close()
        except RuntimeError as exc:
            raise StorageError(f"graph query failed: {exc}") from exc
        return [list(r) if not isinstance(r, dict) else list(r.values()) for r in rows]

    def _read(self, query: str, params: Mapping[str, Any]) -> list[Row]:
        with self._lock:
            if not self._opened:
                raise StorageError("the graph store is not open (call open() first)")
            if self.read_only:
                self._refresh()
                if self._conn is None:
                    return []  # no database yet: an empty graph
            return self._execute(query, params)

    def _write(self, work: Callable[[Run], None]) -> None:
        if self.read_only:
            raise StorageError(f"the graph database {self.path} was opened read-only")
        with self._lock:
            if not self._opened:
                raise StorageError("the graph store is not open (call open() first)")
            self._execute("BEGIN TRANSACTION", {})
            try:
                work(self._execute)
            except BaseException:
                self._rollback()
                raise
            self._execute("COMMIT", {})

    def _rollback(self) -> None:
        try:
            self._execute("ROLLBACK", {})
        except StorageError:
            # The failed statement may already have ended the transaction.
            log.debug("graph rollback after a failed write found no open transaction")
