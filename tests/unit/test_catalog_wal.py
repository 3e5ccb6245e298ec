"""Opening a fresh SQLite catalog while another connection writes to it: switching the file to
WAL is refused at once by SQLite (no busy wait), so the connection retries instead of failing,
as replicas opening one fresh catalog at once need."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from castgraph.catalog._engine import make_engine, parse_url


@pytest.mark.parametrize("for_migration", [False, True])
def test_a_connection_waits_for_the_file_instead_of_failing(
    tmp_path: Path, for_migration: bool
) -> None:
    path = tmp_path / "catalog.db"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("CREATE TABLE t (x)")
    writer.execute("BEGIN IMMEDIATE")  # holds the file as a writer in rollback-journal mode
    writer.execute("INSERT INTO t VALUES (1)")
    released = threading.Timer(0.5, lambda: writer.execute("COMMIT"))
    released.start()
    try:
        engine = make_engine(parse_url(f"sqlite:///{path}"), for_migration=for_migration)
        with engine.connect() as conn:
            mode = conn.execute(text("PRAGMA journal_mode")).scalar()
        engine.dispose()
    finally:
        released.join()
        writer.close()
    assert str(mode).lower() == "wal"
