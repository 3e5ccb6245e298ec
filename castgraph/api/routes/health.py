"""``GET /healthz``: liveness plus what the server holds."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from castgraph.api.deps import CatalogDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(catalog: CatalogDep) -> dict[str, object]:
    """``{"status": "ok", "episodes": N, "indexed": M}`` when the catalog answers."""
    episodes = await run_in_threadpool(catalog.list_episodes)
    indexed = sum(1 for e in episodes if e.state.value == "indexed")
    return {"status": "ok", "episodes": len(episodes), "indexed": indexed}
