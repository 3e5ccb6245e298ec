"""``GET /healthz``: liveness plus what the server holds."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from castgraph.api.deps import CatalogDep
from castgraph.core.models import EpisodeState

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(catalog: CatalogDep) -> dict[str, object]:
    """``{"status": "ok", "episodes": N, "indexed": M}`` when the catalog answers."""
    # One aggregate query: probes come every few seconds, whatever the size of the catalog.
    counts = await run_in_threadpool(catalog.count_episodes)
    indexed = counts.get(EpisodeState.INDEXED.value, 0)
    return {"status": "ok", "episodes": sum(counts.values()), "indexed": indexed}
