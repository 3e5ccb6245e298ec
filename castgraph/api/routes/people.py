"""``/api/people``: named speakers across the indexed episodes, and a person's timeline."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool

from castgraph.api import people
from castgraph.api.browse_schemas import PersonDetail, PersonOut
from castgraph.api.deps import CatalogDep
from castgraph.api.paging import DEFAULT_LIMIT, PAGE_HEADERS, Limit, Offset, set_page_headers
from castgraph.api.schemas import ErrorOut

router = APIRouter(prefix="/api/people", tags=["people"])
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No named speaker by that name"}
}


@router.get(
    "",
    response_model=list[PersonOut],
    responses={200: {"description": "A page of people", "headers": PAGE_HEADERS}},
)
async def list_people(
    catalog: CatalogDep, response: Response, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0
) -> list[PersonOut]:
    """Named speakers, most episodes first, ``limit`` from ``offset`` (``X-Total-Count``,
    ``X-Next-Offset``); unnamed labels such as SPEAKER_00 are episode-local: left out."""
    everyone = await run_in_threadpool(people.people, catalog)
    page = everyone[offset : offset + limit]
    set_page_headers(response, len(everyone), offset, len(page))
    return page


@router.get("/{name:path}", response_model=PersonDetail, responses=_NOT_FOUND)
async def get_person(
    name: str,
    catalog: CatalogDep,
    topic: Annotated[
        str | None, Query(max_length=200, description="Only moments naming this entity key.")
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=people.MAX_LIMIT, description="Moments in all (20 per episode).")
    ] = people.DEFAULT_LIMIT,
) -> PersonDetail:
    """What the person said, episode by episode, oldest publication first: the sentences that
    name an entity, each tagged with them (else the first few, so every episode appears).
    ``name`` is folded (case, accents) and may contain "/" (sent as %2F)."""
    return await run_in_threadpool(people.person, catalog, name, topic=topic, limit=limit)
