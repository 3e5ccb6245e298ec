"""Per-thread SQLite connections to one file, shared by the local SQLite indexes.

Each thread reads through a connection of its own (WAL lets readers run beside the writer), so
readers never wait on each other; ``close()`` closes every thread's connection from any thread.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path

from castgraph.core.errors import StorageError

ADVICE = (
    "check that the data directory exists, is writable and has free space; if the file is "
    "corrupt, delete it and run `castgraph reindex` to rebuild it from the catalog"
)
"""What an error of a local SQLite index (keyword, flat vectors) tells the user to do."""


class _Connection(sqlite3.Connection):
    """A connection that can be weakly referenced (the base class cannot)."""


class ThreadConnections:
    """The connections of one SQLite file, one per thread, opened on first use."""

    def __init__(
        self, target: str | Path, *, label: str, uri: bool = False, pragmas: Sequence[str] = ()
    ) -> None:
        self._target, self._label, self._uri, self._pragmas = target, label, uri, tuple(pragmas)
        self._lock = threading.Lock()  # guards the registry
        self._local = threading.local()
        # Weak, so that a connection goes (and closes) with the worker thread that opened it.
        self._conns: weakref.WeakSet[_Connection] = weakref.WeakSet()
        self._open = False

    def __len__(self) -> int:
        """How many threads' connections are alive."""
        return len(self._conns)

    def open(self) -> None:
        with self._lock:
            self._open = True

    def close(self) -> None:
        """Close every thread's connection; ``open()`` may be called again afterwards."""
        with self._lock:
            self._open = False
            conns = list(self._conns)
            self._conns = weakref.WeakSet()
            self._local = threading.local()
        for conn in conns:
            conn.close()

    def get(self) -> sqlite3.Connection:
        """This thread's connection (a StorageError before ``open()`` or after ``close()``)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        with self._lock:
            if not self._open:
                raise StorageError(f"{self._label} is not open: call open() first")
            # check_same_thread=False only so that close() may close it from another thread.
            conn = sqlite3.connect(
                self._target,
                uri=self._uri,
                timeout=30.0,
                isolation_level=None,
                check_same_thread=False,
                factory=_Connection,
            )
            for pragma in ("PRAGMA synchronous = NORMAL", *self._pragmas):
                conn.execute(pragma)
            self._conns.add(conn)
            self._local.conn = conn
        return conn
