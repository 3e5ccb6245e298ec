"""The catalog: episodes, segments, speakers and named voices (SQLite by default)."""

from castgraph.catalog.sql import SqlCatalog, episode_id_for

__all__ = ["SqlCatalog", "episode_id_for"]
