"""Episode leases and job items: the distributed queue (Celery) processes an episode in one
worker at a time and tracks each episode of a job."""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Only what is missing: a catalog adopted from before revisions may already have some of it
    # (written by a castgraph that created tables from its models).
    inspector = sa.inspect(op.get_bind())
    present = {c["name"] for c in inspector.get_columns("episodes")}
    columns: list[sa.Column[Any]] = [
        sa.Column("lease_owner", sa.String(128), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
    ]
    missing = [c for c in columns if c.name not in present]
    if missing:
        with op.batch_alter_table("episodes") as batch:
            for column in missing:
                batch.add_column(column)
    if inspector.has_table("job_items"):
        return
    op.create_table(
        "job_items",
        sa.Column(
            "job_id",
            sa.Integer(),
            sa.ForeignKey("jobs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("episode_id", sa.String(32), primary_key=True),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(32), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("job_items")
    with op.batch_alter_table("episodes") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("lease_owner")
