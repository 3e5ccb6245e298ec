"""Search filters as the user gives them, made exact: episode ids or unique prefixes → full ids.

Every command and route that names an episode takes an id or a unique prefix (the catalog
resolves it); a filter must too, or ``--episode 3fa2`` silently matches no chunk, since the
indexes compare whole ids.
"""

from __future__ import annotations

from dataclasses import replace

from castgraph.catalog import SqlCatalog
from castgraph.retrieval.base import SearchFilters


def resolve_episodes(catalog: SqlCatalog, filters: SearchFilters | None) -> SearchFilters | None:
    """``filters`` with each episode id or unique prefix replaced by the full id.

    Raises InputError for an ambiguous prefix and NotFoundError for an unknown one (each says
    what to do), before anything is searched.
    """
    if filters is None or not filters.episode_ids:
        return filters
    ids = tuple(dict.fromkeys(catalog.get(given).id for given in filters.episode_ids))
    return replace(filters, episode_ids=ids)
