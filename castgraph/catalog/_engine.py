"""Engines for the catalog's URL: SQLite (the default file) or PostgreSQL through psycopg 3.

Per-dialect settings live here so the stores stay dialect-free: SQLite gets its pragmas (foreign
keys, WAL, a busy timeout), PostgreSQL gets ``pool_pre_ping`` (a replica outlives database
restarts) and sessions in UTC, because the catalog stores naive UTC times and ``now()`` server
defaults must agree with them.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import NullPool

from castgraph.core.errors import DependencyError, InputError

WAL_WAIT_S = 60.0
"""How long a connection retries switching a fresh catalog to WAL while others hold it."""

POSTGRES_HINT = "postgresql+psycopg://user:password@host:5432/dbname"


def parse_url(url: str) -> URL:
    """The catalog URL, with a bare ``postgresql://`` meaning psycopg 3 (the supported driver)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise InputError(
            f"CASTGRAPH_DATABASE_URL {url!r} is not a database URL: use sqlite:///path/catalog.db "
            f"or {POSTGRES_HINT}"
        ) from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def shown(url: str | URL) -> str:
    """The URL for messages and logs, without its password."""
    parsed = url if isinstance(url, URL) else make_url(url)
    return parsed.render_as_string(hide_password=True)


def make_engine(url: URL, *, for_migration: bool = False) -> Engine:
    """An engine for ``url``. ``for_migration`` on SQLite: a short-lived engine whose
    transactions start with ``BEGIN IMMEDIATE`` (the file's write lock, so two processes never
    migrate at once) and without foreign keys (a batch migration copies and drops tables, and
    with foreign keys on, the drop would cascade into the child tables)."""
    backend = url.get_backend_name()
    if backend == "sqlite" and url.database not in (None, "", ":memory:"):
        Path(url.database or "").parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {}
    if backend == "postgresql":
        options = {"pool_pre_ping": True, "connect_args": {"options": "-c TimeZone=UTC"}}
    elif backend == "sqlite" and for_migration:
        options = {"poolclass": NullPool, "connect_args": {"timeout": 60}}
    try:
        engine = create_engine(url, **options)
    except (ImportError, NoSuchModuleError) as exc:
        if backend == "postgresql":
            raise DependencyError("psycopg (the PostgreSQL driver)", "postgres") from exc
        raise InputError(f"no driver for the catalog URL {shown(url)}: {exc}") from exc
    if backend == "sqlite":
        if for_migration:
            event.listen(engine, "connect", _sqlite_migration_connect)
            event.listen(engine, "begin", _sqlite_begin_immediate)
        else:
            event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    _wal(cur)
    cur.close()


def _wal(cur: Any) -> None:
    """Put the file in WAL mode (once: the mode is stored in the file). Switching needs the file
    to itself, which replicas opening a fresh catalog at once contend for and SQLite may refuse
    at once ("database is locked") rather than wait: retry for a while."""
    deadline = time.monotonic() + WAL_WAIT_S
    while True:
        try:
            if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _sqlite_migration_connect(dbapi_conn: Any, _record: Any) -> None:
    # pysqlite's own transaction handling would begin lazily (and not before DDL): take it over
    # so the ``begin`` listener decides how each transaction starts.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=OFF")
    cur.execute("PRAGMA busy_timeout=10000")
    _wal(cur)
    cur.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")
