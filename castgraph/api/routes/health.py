"""``GET /healthz``: liveness, what the server holds, and each component's state.

Each search component (vector, keyword, graph) is probed with a cheap read. A failing vector or
graph store only degrades search (the others answer, issue 13), so the status is ``degraded``
and the code 200; the code is 503 only when nothing can answer: the catalog or the keyword
index (which also serves every result's text) fails.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from castgraph.api.deps import ServicesDep
from castgraph.core.models import EpisodeState

router = APIRouter(tags=["health"])

ESSENTIAL = ("catalog", "keyword")
"""Components without which no search or answer can be given."""


@router.get("/healthz")
async def healthz(services: ServicesDep) -> JSONResponse:
    """``{"status": "ok"|"degraded"|"failing", "episodes": N, "indexed": M, "components":
    {name: {"status": "ok"|"error", "message"?}}}``; 503 only when nothing can answer."""
    # One aggregate query: probes come every few seconds, whatever the size of the catalog.
    counts: dict[str, int] = {}

    def count() -> None:
        counts.update(services.catalog.count_episodes())

    components = {"catalog": await run_in_threadpool(_probe, count)}
    for name, check in services.health.items():
        components[name] = await run_in_threadpool(_probe, check)
    failed = {name for name, state in components.items() if state["status"] != "ok"}
    answering = not failed & set(ESSENTIAL)
    status = "ok" if not failed else "degraded" if answering else "failing"
    body = {
        "status": status,
        "episodes": sum(counts.values()),
        "indexed": counts.get(EpisodeState.INDEXED.value, 0),
        "components": components,
    }
    return JSONResponse(body, status_code=200 if answering else 503)


def _probe(check: Callable[[], None]) -> dict[str, str]:
    try:
        check()
    except Exception as exc:  # any failure of a component is its state, not the probe's
        return {"status": "error", "message": str(exc) or type(exc).__name__}
    return {"status": "ok"}
