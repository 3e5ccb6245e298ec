"""Bring a catalog to the newest schema with Alembic (``castgraph/catalog/migrations``).

Three starting points: an empty database (upgraded from nothing), a catalog written before
Alembic (tables but no ``alembic_version``: made equal to the baseline revision, stamped, then
upgraded) and a versioned one (upgraded; nothing to do when current). A database stamped with a
revision this code does not know was written by a newer castgraph and is refused.

Every process opening the catalog runs this, and API replicas and workers start together, so
the upgrade is serialised: on PostgreSQL by an advisory lock held by the migration transaction,
on SQLite by the file's write lock (``BEGIN IMMEDIATE``). Whoever comes second finds the work
done. PostgreSQL and SQLite both roll DDL back with the transaction, so a failed upgrade leaves
the previous revision whole.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import URL, Connection, Engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.schema import Column, MetaData

from castgraph.catalog._engine import make_engine, parse_url, shown
from castgraph.core.errors import StorageError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001"
# pg_advisory_xact_lock takes a bigint: a fixed key of castgraph's catalog migrations.
ADVISORY_LOCK_KEY = 0x63617374_67726170  # "castgrap"
# Alembic's ``context`` and ``op`` are process-wide proxies: threads of one process (a server
# opening catalogs) migrate one at a time on top of the database's own lock.
_PROCESS_LOCK = threading.Lock()


@dataclass(frozen=True)
class MigrationResult:
    """The catalog's revision before and after; ``adopted``: it predated Alembic."""

    database: str
    """The catalog's URL without its password."""
    before: str | None
    after: str | None
    head: str
    adopted: bool = False

    @property
    def changed(self) -> bool:
        return self.before != self.after


def head_revision() -> str:
    head = _scripts().get_current_head()
    assert head is not None, "the catalog migrations have no head revision"
    return head


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def migrate(url: str) -> MigrationResult:
    """Bring the catalog at ``url`` to the head revision (``castgraph migrate``)."""
    parsed = parse_url(url)
    engine = make_engine(parsed)
    try:
        return ensure_head(engine, parsed)
    finally:
        engine.dispose()


def ensure_head(engine: Engine, url: URL) -> MigrationResult:
    """Upgrade the catalog behind ``engine`` to the head revision (see the module docstring)."""
    head = head_revision()
    try:
        with engine.connect() as conn:  # the common case, without taking any lock
            before = current_revision(conn)
        _check_known(before, url)
        if before == head:
            return MigrationResult(shown(url), before, before, head)
        with _PROCESS_LOCK:
            return _upgrade_locked(engine, url, head)
    except (SQLAlchemyError, CommandError) as exc:
        raise StorageError(f"cannot migrate the catalog at {shown(url)}: {exc}") from exc


def _upgrade_locked(engine: Engine, url: URL, head: str) -> MigrationResult:
    memory = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
    own = engine.dialect.name == "sqlite" and not memory
    migrator = make_engine(url, for_migration=True) if own else engine
    try:
        with migrator.begin() as conn:  # SQLite: BEGIN IMMEDIATE, the write lock
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
            before = current_revision(conn)  # again: another process may have migrated
            _check_known(before, url)
            adopted = before is None and _adopt_legacy(conn)
            config = _config(conn)
            if adopted:
                command.stamp(config, BASELINE)
            command.upgrade(config, "head")
            after = current_revision(conn)
    finally:
        if own:
            migrator.dispose()
    result = MigrationResult(shown(url), before, after, head, adopted)
    if result.changed:
        log.info(
            "catalog migrated",
            extra={"before": before, "after": after, "adopted": adopted, "url": shown(url)},
        )
    return result


def _check_known(revision: str | None, url: URL) -> None:
    if revision is None or revision in _known():
        return
    raise StorageError(
        f"the catalog at {shown(url)} is at schema revision {revision!r}, newer than this "
        f"castgraph knows (its newest is {head_revision()!r}): upgrade castgraph "
        "(pip install -U castgraph) on every machine that opens this catalog"
    )


def _adopt_legacy(conn: Connection) -> bool:
    """A catalog from before Alembic becomes exactly the baseline: returns False when the
    database holds no catalog table (then it is simply empty)."""
    baseline = _baseline_metadata()
    present = set(inspect(conn).get_table_names())
    if not present & set(baseline.tables):
        return False
    baseline.create_all(conn, checkfirst=True)
    add_missing_columns(conn, baseline)
    return True


def add_missing_columns(conn: Connection, metadata: MetaData) -> list[str]:
    """``ALTER TABLE … ADD COLUMN`` for every column of ``metadata`` the database lacks.

    Before Alembic the catalog only ever grew nullable columns between versions, so a catalog
    from any earlier castgraph reaches the baseline this way without losing a row.
    """
    inspector = inspect(conn)
    existing = set(inspector.get_table_names())
    added: list[str] = []
    for table in metadata.sorted_tables:
        if table.name not in existing:
            continue
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present:
                conn.execute(text(_add_column_sql(conn, table.name, column)))
                added.append(f"{table.name}.{column.name}")
    if added:
        log.info("catalog columns added", extra={"columns": added})
    return added


def _add_column_sql(conn: Connection, table: str, column: Column[object]) -> str:
    preparer = conn.dialect.identifier_preparer
    kind = column.type.compile(dialect=conn.dialect)
    return f"ALTER TABLE {preparer.quote(table)} ADD COLUMN {preparer.quote(column.name)} {kind}"


def _config(conn: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


@cache
def _known() -> frozenset[str]:
    return frozenset(script.revision for script in _scripts().walk_revisions())


def _baseline_metadata() -> MetaData:
    script = _scripts().get_revision(BASELINE)
    metadata = getattr(script.module, "METADATA", None) if script is not None else None
    if not isinstance(metadata, MetaData):
        raise StorageError(f"castgraph's baseline migration {BASELINE} is missing: reinstall it")
    return metadata
