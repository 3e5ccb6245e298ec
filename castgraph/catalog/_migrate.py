"""Bring an existing catalog's tables up to the current schema by adding missing columns.

The catalog only ever grows columns between versions (nullable, or with a default), so a file
written by an earlier castgraph is upgraded in place on open: no data is lost, and the new
fields fill in as episodes are re-analysed (a pipeline-version bump re-chunks from the stored
transcript).
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine, inspect, text
from sqlalchemy.schema import Column, MetaData

log = logging.getLogger(__name__)


def add_missing_columns(engine: Engine, metadata: MetaData) -> list[str]:
    """``ALTER TABLE … ADD COLUMN`` for every column the model has and the database lacks."""
    inspector = inspect(engine)
    existing_tables = set(inspector.get_table_names())
    added: list[str] = []
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            if table.name not in existing_tables:
                continue  # create_all makes it whole
            present = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name in present:
                    continue
                conn.execute(text(_add_column_sql(engine, table.name, column)))
                added.append(f"{table.name}.{column.name}")
    if added:
        log.info("catalog upgraded", extra={"columns": added})
    return added


def _add_column_sql(engine: Engine, table: str, column: Column[object]) -> str:
    preparer = engine.dialect.identifier_preparer
    kind = column.type.compile(dialect=engine.dialect)
    return f"ALTER TABLE {preparer.quote(table)} ADD COLUMN {preparer.quote(column.name)} {kind}"
