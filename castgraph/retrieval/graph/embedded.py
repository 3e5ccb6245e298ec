"""The embedded graph store: LadybugDB (the maintained Kùzu fork), one database file on disk.

One read-write process per database: LadybugDB locks the file, and a second writer fails with
"Could not set lock on file", raised here as ``LockedError``. Read-only openers may share it.

Connections (measured on LadybugDB 0.22, see docs/decisions.md, issue 12): one ``Database`` in
the process serves any number of ``Connection``s; queries on different connections run in
parallel (the binding releases the GIL), while one connection runs one query at a time. A read
on another connection does not wait for an open write transaction and sees the last committed
state (snapshot isolation). So concurrent reads each take a connection of their own from a
pool, and the single writer has its own; only writes queue behind one another (LadybugDB allows
one write transaction at a time).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from castgraph.core.errors import DependencyError, LockedError, StorageError
from castgraph.retrieval.graph.cypher import CypherGraphStore, Row, Run

log = logging.getLogger(__name__)

# Kùzu needs typed tables; ``IF NOT EXISTS`` makes opening an existing database a no-op.
SCHEMA = (
    "CREATE NODE TABLE IF NOT EXISTS Episode(id STRING PRIMARY KEY, title STRING, url STRING, "
    "published DATE, language STRING, entity_keys STRING[])",
    # Databases made before the episode kept its entity keys (issue 12) gain the column here.
    "ALTER TABLE Episode ADD IF NOT EXISTS entity_keys STRING[]",
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


def _execute(conn: Any, query: str, params: Mapping[str, Any]) -> list[Row]:
    try:
        result = conn.execute(query, dict(params))
        if isinstance(result, list):
            result = result[-1]
        rows = result.get_all()
        result.close()
    except RuntimeError as exc:
        raise StorageError(f"graph query failed: {exc}") from exc
    return [list(r) if not isinstance(r, dict) else list(r.values()) for r in rows]


class _Handle:
    """One open ``Database``: the writer's connection and a pool of reader connections.

    A reader takes an idle connection (or opens one), so concurrent reads never share one; the
    pool grows to the peak number of concurrent readers. A retired handle takes no new users
    and closes when the last one leaves, so no query runs on a closed database.
    """

    def __init__(self, db: Any, *, writer: bool) -> None:
        self.db = db
        self._lb = _import_ladybug()
        self.writer = self._lb.Connection(db) if writer else None
        self._idle: list[Any] = []
        self._readers: list[Any] = []
        self._cond = threading.Condition()
        self._users = 0
        self._retired = False
        self._closed = False

    def read(self, query: str, params: Mapping[str, Any]) -> list[Row] | None:
        """Run a read on a connection of its own; ``None`` when retired (use the current one)."""
        with self._cond:
            if self._retired:
                return None
            self._users += 1
            conn = self._idle.pop() if self._idle else None
        try:
            if conn is None:
                conn = self._lb.Connection(self.db)
                with self._cond:
                    self._readers.append(conn)
            return _execute(conn, query, params)
        finally:
            with self._cond:
                if conn is not None:
                    self._idle.append(conn)
            self.leave()

    def enter(self) -> bool:
        """Count a user in; ``False`` when the handle is retired."""
        with self._cond:
            if self._retired:
                return False
            self._users += 1
            return True

    def leave(self) -> None:
        with self._cond:
            self._users -= 1
            self._cond.notify_all()
            last = self._retired and self._users == 0
        if last:
            try:
                self._close()
            except StorageError as exc:
                # The last read on a database reopened since: its result stands.
                log.warning("closing a replaced graph database failed", extra={"error": str(exc)})

    def retire(self, *, wait: bool) -> None:
        """No new users; close now if idle, after ``wait``ing for users, or when the last leaves."""
        with self._cond:
            self._retired = True
            if wait:
                self._cond.wait_for(lambda: self._users == 0)
            idle = self._users == 0
        if idle:
            self._close()

    def _close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            connections = [*self._readers, self.writer]
        try:
            for conn in connections:
                if conn is not None:
                    conn.close()
            self.db.close()
        except RuntimeError as exc:
            raise StorageError(f"closing the graph database failed: {exc}") from exc


class EmbeddedGraphStore(CypherGraphStore):
    """A LadybugDB database at ``path`` (a file; its folder is created when writable).

    A read-only store sees the database as it was when opened, so it reopens it whenever the
    files changed since (a writer committed); reads still running on the old one finish there.
    Before a writer has created the database, it reads as an empty graph.
    """

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._handle: _Handle | None = None
        self._opened = False
        self._signature: tuple[tuple[int, int] | None, ...] = ()
        self._lock = threading.Lock()  # opening, closing and swapping the handle: short
        self._write_lock = threading.Lock()  # one write transaction at a time

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
                handle = self._connect()
                try:
                    for statement in SCHEMA:
                        _execute(handle.writer, statement, {})
                except StorageError:
                    handle.retire(wait=False)
                    raise
                self._handle = handle
            self._opened = True
        return self

    def _connect(self) -> _Handle:
        lb = _import_ladybug()
        try:
            # A write cut short by a full disk (or a crash mid-append) leaves a torn record at
            # the log's end; by default LadybugDB then refuses the whole database. Replaying up
            # to it keeps every committed transaction and drops the torn one, which was never
            # acknowledged (its episode is not marked indexed, so the next run writes it again).
            db = lb.Database(
                str(self.path), read_only=self.read_only, throw_on_wal_replay_failure=False
            )
        except RuntimeError as exc:
            raise self._open_error(exc) from exc
        try:
            return _Handle(db, writer=not self.read_only)
        except RuntimeError as exc:
            db.close()
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
        """Read-only, under ``_lock``: reopen when a writer changed the files since."""
        signature = self._files_signature()
        if signature == self._signature and (self._handle is not None or signature[0] is None):
            return
        old, self._handle = self._handle, None
        if old is not None:
            old.retire(wait=False)
        if signature[0] is not None:
            self._handle = self._connect()
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
        """Wait for running queries, then close (releasing the file lock); safe to call twice."""
        with self._lock:
            self._opened = False
            handle, self._handle = self._handle, None
        if handle is not None:
            handle.retire(wait=True)

    def __enter__(self) -> EmbeddedGraphStore:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _current(self) -> _Handle | None:
        """The handle to use now; ``None`` for a read-only store with no database yet."""
        with self._lock:
            if not self._opened:
                raise StorageError("the graph store is not open (call open() first)")
            if self.read_only:
                self._refresh()
            return self._handle

    def _read(self, query: str, params: Mapping[str, Any]) -> list[Row]:
        while True:
            handle = self._current()
            if handle is None:
                return []  # no database yet: an empty graph
            rows = handle.read(query, params)
            if rows is not None:
                return rows
            # Retired in between (the files changed and were reopened): read the new one.

    def _write(self, work: Callable[[Run], None]) -> None:
        if self.read_only:
            raise StorageError(f"the graph database {self.path} was opened read-only")
        with self._write_lock:
            handle = self._current()
            if handle is None or handle.writer is None or not handle.enter():
                raise StorageError("the graph store is not open (call open() first)")
            conn = handle.writer
            try:
                _execute(conn, "BEGIN TRANSACTION", {})
                try:
                    work(lambda query, params: _execute(conn, query, params))
                except BaseException:
                    _rollback(conn)
                    raise
                _execute(conn, "COMMIT", {})
            finally:
                handle.leave()


def _rollback(conn: Any) -> None:
    try:
        _execute(conn, "ROLLBACK", {})
    except StorageError:
        # The failed statement may already have ended the transaction.
        log.debug("graph rollback after a failed write found no open transaction")
