"""``/api/topics``: entities of the knowledge graph, and an entity's moments and neighbours."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from castgraph.api import topics
from castgraph.api.browse_schemas import TopicDetail, TopicOut
from castgraph.api.deps import GraphDep, ServicesDep
from castgraph.api.schemas import ErrorOut

router = APIRouter(prefix="/api/topics", tags=["topics"])
_OFF: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorOut, "description": "The knowledge graph is off"}
}


@router.get("", response_model=list[TopicOut], responses=_OFF)
async def list_topics(
    graph: GraphDep,
    q: Annotated[
        str | None, Query(max_length=200, description="Part of a name or alias (folded).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=topics.MAX_TOPICS)] = topics.DEFAULT_TOPICS,
) -> list[TopicOut]:
    """Entities, most mentioned first."""
    return await run_in_threadpool(topics.topics, graph, q, limit)


@router.get(
    "/{key}",
    response_model=TopicDetail,
    responses={**_OFF, 404: {"model": ErrorOut, "description": "No such entity"}},
)
async def get_topic(
    key: str,
    graph: GraphDep,
    services: ServicesDep,
    limit: Annotated[
        int, Query(ge=1, le=topics.MAX_MOMENTS, description="Mention moments at most.")
    ] = topics.DEFAULT_MOMENTS,
) -> TopicDetail:
    """An entity, the moments that mention it (oldest first) and up to 25 related entities
    (depth 1, strongest first), each relation with up to 3 moments that state it."""
    visible = await run_in_threadpool(services.live_builds)
    return await run_in_threadpool(topics.topic, graph, services.catalog, visible, key, limit=limit)
