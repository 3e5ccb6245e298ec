"""``GET /api/search``: the moments that answer a query."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from castgraph.api.admission import Admitted
from castgraph.api.deps import CatalogDep, SearchDep
from castgraph.api.filters import resolve_episodes
from castgraph.api.ratelimit import SearchRateLimit
from castgraph.api.schemas import DegradedOut, ErrorOut, SearchHit, SearchResponse
from castgraph.core.errors import InputError
from castgraph.retrieval.base import SearchFilters
from castgraph.retrieval.search import MAX_K

router = APIRouter(prefix="/api", tags=["search"])


@router.get(
    "/search",
    response_model=SearchResponse,
    dependencies=[SearchRateLimit, Admitted],
    responses={
        404: {"model": ErrorOut, "description": "No episode has that id or prefix"},
        422: {"model": ErrorOut, "description": "Empty, oversized or malformed query"},
        429: {"model": ErrorOut, "description": "Too many searches from this client (Retry-After)"},
        503: {"model": ErrorOut, "description": "The server is busy (Retry-After)"},
    },
)
async def search(
    request: Request,
    service: SearchDep,
    catalog: CatalogDep,
    q: Annotated[str | None, Query(description="The query, in Spanish or English.")] = None,
    query: Annotated[str | None, Query(description="Alias of q.")] = None,
    k: Annotated[int, Query(ge=1, le=MAX_K, description="How many results.")] = 10,
    episode: Annotated[
        list[str] | None, Query(description="Only these episode ids (or unique prefixes).")
    ] = None,
    speaker: Annotated[list[str] | None, Query(description="Only these speakers.")] = None,
    language: Annotated[list[str] | None, Query(description="Only these languages.")] = None,
    date_from: Annotated[date | None, Query(description="Published on or after.")] = None,
    date_to: Annotated[date | None, Query(description="Published on or before.")] = None,
) -> SearchResponse:
    """Hybrid (vector + keyword + graph) search over every indexed episode."""
    sent = [*request.query_params.getlist("q"), *request.query_params.getlist("query")]
    if len(sent) > 1:  # FastAPI would silently keep the last one (found by fuzzing)
        raise InputError(f"give the query once, as ?q=… (or ?query=…); got {len(sent)}")
    text = q if q is not None else query
    if text is None:
        raise InputError("give the query as ?q=… (or ?query=…)")
    filters = SearchFilters(
        episode_ids=tuple(episode or ()),
        speakers=tuple(speaker or ()),
        languages=tuple(language or ()),
        date_from=date_from,
        date_to=date_to,
    )
    resolved = await run_in_threadpool(resolve_episodes, catalog, filters)
    outcome = await run_in_threadpool(service.search_outcome, text, k, resolved)
    return SearchResponse(
        query=text.strip(),
        results=[SearchHit.of(r) for r in outcome.results],
        degraded=[DegradedOut(component=d.component, message=d.message) for d in outcome.degraded],
    )
