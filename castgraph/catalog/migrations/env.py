"""Alembic environment of the catalog.

castgraph builds the Alembic ``Config`` in code (``castgraph.catalog._migrate``) and hands this
script an open connection in ``config.attributes["connection"]``, already inside the transaction
that holds the migration lock; nothing here connects or commits by itself.

Adding a revision: copy the newest file in ``versions/`` to ``versions/NNNN_slug.py`` with the
next number, set ``revision = "NNNN"`` and ``down_revision`` to the previous number, and alter
tables with ``op.batch_alter_table`` (SQLite cannot alter most columns in place; batch mode
copies the table, and the migration connection has foreign keys off so the copy never
cascades). Update ``castgraph/catalog/schema.py`` in the same commit: the migration tests check
that models and migrations agree on SQLite and PostgreSQL.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from castgraph.catalog.schema import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError(
        "the catalog migrations run through castgraph (`castgraph migrate`), not the alembic CLI"
    )
_run(connection)
