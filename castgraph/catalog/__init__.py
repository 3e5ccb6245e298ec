"""The catalog: episodes, segments, speakers, named voices, subscriptions and jobs (SQLite by
default, PostgreSQL for several processes and machines; the schema migrates with Alembic)."""

from castgraph.catalog._jobs import JobStore
from castgraph.catalog._migrate import MigrationResult, head_revision, migrate
from castgraph.catalog._subscriptions import SubscriptionStore
from castgraph.catalog.sql import SqlCatalog, episode_id_for

__all__ = [
    "JobStore",
    "MigrationResult",
    "SqlCatalog",
    "SubscriptionStore",
    "episode_id_for",
    "head_revision",
    "migrate",
]
