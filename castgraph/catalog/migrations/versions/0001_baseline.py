"""Baseline: the catalog as castgraph wrote it before migrations (episodes to jobs).

Revision ID: 0001
Revises: (none)

The tables are frozen here rather than read from ``schema.py``: later revisions change the
models, and this revision must keep creating the schema it stands for. A catalog written before
Alembic is brought to exactly this schema (missing tables created, missing nullable columns
added), stamped "0001", then upgraded like any other.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

METADATA = sa.MetaData()


def _created() -> sa.Column[object]:
    return sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False)


def _updated() -> sa.Column[object]:
    return sa.Column("updated_at", sa.DateTime(), server_default=sa.func.now(), nullable=False)


def _episode_fk() -> sa.Column[object]:
    return sa.Column(
        "episode_id",
        sa.String(32),
        sa.ForeignKey("episodes.id", ondelete="CASCADE"),
        primary_key=True,
    )


sa.Table(
    "episodes",
    METADATA,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("source_id", sa.String(512), nullable=False, unique=True, index=True),
    sa.Column("title", sa.Text(), nullable=False),
    sa.Column("url", sa.Text(), nullable=False),
    sa.Column("origin", sa.Text(), nullable=False),
    sa.Column("local_path", sa.Text(), nullable=True),
    sa.Column("captions", sa.JSON(), nullable=False),
    sa.Column("duration", sa.Float(), nullable=True),
    sa.Column("published", sa.Date(), nullable=True),
    sa.Column("language", sa.String(16), nullable=True),
    sa.Column("transcript_source", sa.String(16), nullable=True),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("pipeline_version", sa.String(16), nullable=False),
    _created(),
    _updated(),
)
sa.Table(
    "segments",
    METADATA,
    _episode_fk(),
    sa.Column("ordinal", sa.Integer(), primary_key=True),
    sa.Column("start", sa.Float(), nullable=False),
    sa.Column("end", sa.Float(), nullable=False),
    sa.Column("speaker", sa.String(64), nullable=True),
    sa.Column("text", sa.Text(), nullable=False),
    sa.Column("words", sa.JSON(), nullable=False),
)
sa.Table(
    "voices",
    METADATA,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text(), nullable=False),
    sa.Column("embedding", sa.JSON(), nullable=False),
    sa.Column("episode_id", sa.String(32), nullable=True),
    sa.Column("label", sa.String(64), nullable=True),
    sa.Column("guessed", sa.Boolean(), nullable=True),
    _created(),
)
sa.Table(
    "speakers",
    METADATA,
    _episode_fk(),
    sa.Column("label", sa.String(64), primary_key=True),
    sa.Column("name", sa.Text(), nullable=True),
    sa.Column(
        "voice_id", sa.Integer(), sa.ForeignKey("voices.id", ondelete="SET NULL"), nullable=True
    ),
    sa.Column("embedding", sa.JSON(), nullable=True),
    sa.Column("guess_name", sa.Text(), nullable=True),
    sa.Column("guess_confidence", sa.Float(), nullable=True),
    sa.Column("guess_evidence", sa.JSON(), nullable=True),
)
sa.Table(
    "chunks",
    METADATA,
    _episode_fk(),
    sa.Column("ordinal", sa.Integer(), primary_key=True),
    sa.Column("id", sa.String(64), nullable=False, unique=True),
    sa.Column("start", sa.Float(), nullable=False),
    sa.Column("end", sa.Float(), nullable=False),
    sa.Column("text", sa.Text(), nullable=False),
    sa.Column("speakers", sa.JSON(), nullable=False),
    sa.Column("language", sa.String(16), nullable=False),
    sa.Column("sentences", sa.JSON(), nullable=True),
)
sa.Table(
    "extractions",
    METADATA,
    _episode_fk(),
    sa.Column("extractor", sa.String(32), nullable=False),
    sa.Column("entities", sa.JSON(), nullable=False),
    sa.Column("relations", sa.JSON(), nullable=False),
)
sa.Table(
    "subscriptions",
    METADATA,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("source", sa.Text(), nullable=False, unique=True),
    sa.Column("options", sa.JSON(), nullable=False),
    sa.Column("cron", sa.String(128), nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("paused_until", sa.DateTime(), nullable=True),
    sa.Column("pause_reason", sa.Text(), nullable=True),
    sa.Column("next_due_at", sa.DateTime(), nullable=True, index=True),
    sa.Column("discovered", sa.Boolean(), nullable=True),
    _created(),
    _updated(),
)
sa.Table(
    "runs",
    METADATA,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column(
        "subscription_id",
        sa.Integer(),
        sa.ForeignKey("subscriptions.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("due_at", sa.DateTime(), nullable=False),
    sa.Column("trigger", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("job_id", sa.Integer(), nullable=True),
    _created(),
    sa.Column("started_at", sa.DateTime(), nullable=True),
    sa.Column("ended_at", sa.DateTime(), nullable=True),
    sa.Column("found", sa.Integer(), nullable=False),
    sa.Column("ingested", sa.Integer(), nullable=False),
    sa.Column("failed", sa.Integer(), nullable=False),
    sa.Column("skipped", sa.Integer(), nullable=False),
    sa.Column("episodes", sa.JSON(), nullable=False),
    sa.Column("errors", sa.JSON(), nullable=False),
    sa.Column("note", sa.Text(), nullable=True),
    sa.UniqueConstraint("subscription_id", "due_at", name="uq_run_due"),
)
sa.Table(
    "jobs",
    METADATA,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("request", sa.JSON(), nullable=False),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("cancel_requested", sa.Boolean(), nullable=False),
    sa.Column(
        "run_id",
        sa.Integer(),
        sa.ForeignKey("runs.id", ondelete="SET NULL"),
        nullable=True,
        index=True,
    ),
    sa.Column("progress", sa.JSON(), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("owner", sa.String(128), nullable=True),
    sa.Column("heartbeat_at", sa.DateTime(), nullable=True),
    sa.Column("error", sa.Text(), nullable=True),
    _created(),
    sa.Column("started_at", sa.DateTime(), nullable=True),
    sa.Column("ended_at", sa.DateTime(), nullable=True),
)


def upgrade() -> None:
    METADATA.create_all(op.get_bind())


def downgrade() -> None:
    METADATA.drop_all(op.get_bind())
