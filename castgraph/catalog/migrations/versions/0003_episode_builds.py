"""Episode builds: re-processing beside the live version.

``episodes`` gains the live build number (null: build 0, as every episode written before),
the build a swap retired until its index entries are removed, and the last re-process error;
``episode_builds`` holds one staged build per episode until it is swapped in.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Only what is missing: a catalog adopted from before revisions may already have some of it
    # (written by a castgraph that created tables from its models).
    inspector = sa.inspect(op.get_bind())
    present = {c["name"] for c in inspector.get_columns("episodes")}
    columns: list[sa.Column[Any]] = [
        sa.Column("build", sa.Integer(), nullable=True),
        sa.Column("retired_build", sa.Integer(), nullable=True),
        sa.Column("reprocess_error", sa.Text(), nullable=True),
    ]
    missing = [c for c in columns if c.name not in present]
    if missing:
        with op.batch_alter_table("episodes") as batch:
            for column in missing:
                batch.add_column(column)
    if inspector.has_table("episode_builds"):
        return
    op.create_table(
        "episode_builds",
        sa.Column(
            "episode_id",
            sa.String(32),
            sa.ForeignKey("episodes.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("build", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("transcript_source", sa.String(16), nullable=True),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("segments", sa.JSON(), nullable=True),
        sa.Column("speakers", sa.JSON(), nullable=True),
        sa.Column("chunks", sa.JSON(), nullable=True),
        sa.Column("extraction", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("episode_builds")
    with op.batch_alter_table("episodes") as batch:
        batch.drop_column("reprocess_error")
        batch.drop_column("retired_build")
        batch.drop_column("build")
