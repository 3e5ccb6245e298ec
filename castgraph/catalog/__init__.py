"""The catalog: episodes, segments, speakers, named voices, subscriptions and jobs (SQLite by
default)."""

from castgraph.catalog._jobs import JobStore
from castgraph.catalog._subscriptions import SubscriptionStore
from castgraph.catalog.sql import SqlCatalog, episode_id_for

__all__ = ["JobStore", "SqlCatalog", "SubscriptionStore", "episode_id_for"]
