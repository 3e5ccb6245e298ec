"""``/api/episodes``: the catalog, transcripts with speakers and times, and deletion."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Response, status
from fastapi.concurrency import run_in_threadpool

from castgraph.api.deps import CatalogDep, ServicesDep, WriteAccess
from castgraph.api.paging import DEFAULT_LIMIT, PAGE_HEADERS, Limit, Offset, set_page_headers
from castgraph.api.schemas import EpisodeDetail, EpisodeOut, ErrorOut, SegmentOut
from castgraph.api.speaker_schemas import SpeakerOut
from castgraph.core.models import Episode, Segment, Sentence
from castgraph.core.timefmt import moment_link

router = APIRouter(prefix="/api/episodes", tags=["episodes"])
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No such episode"}
}


@router.get(
    "",
    response_model=list[EpisodeOut],
    responses={200: {"description": "A page of episodes", "headers": PAGE_HEADERS}},
)
async def list_episodes(
    catalog: CatalogDep, response: Response, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0
) -> list[EpisodeOut]:
    """Episodes with their pipeline state, oldest published first, ``limit`` from ``offset``:
    ``X-Total-Count`` says how many there are, ``X-Next-Offset`` where the next page starts."""
    counts = await run_in_threadpool(catalog.count_episodes)
    episodes = await run_in_threadpool(catalog.list_episodes, limit, offset)
    set_page_headers(response, sum(counts.values()), offset, len(episodes))
    return [EpisodeOut.of(e) for e in episodes]


@router.get("/{episode_id}", response_model=EpisodeDetail, responses=_NOT_FOUND)
async def get_episode(episode_id: str, catalog: CatalogDep) -> EpisodeDetail:
    """One episode (id or unique prefix) with its transcript by speaker and time."""
    episode = await run_in_threadpool(catalog.get, episode_id)
    segments = await run_in_threadpool(catalog.segments, episode.id)
    sentences = await run_in_threadpool(catalog.sentences, episode.id)
    speakers = await run_in_threadpool(catalog.speakers, episode.id)
    return EpisodeDetail(
        **EpisodeOut.of(episode).model_dump(),
        segments=_linked(segments, episode),
        sentences=_linked(sentences, episode),
        speaker_details=[SpeakerOut.of(sp, episode) for sp in speakers],
    )


def _linked(spans: Sequence[Segment | Sentence], episode: Episode) -> list[SegmentOut]:
    """Transcript spans (segments or sentences) with a link that opens each at its start."""
    return [
        SegmentOut(
            start=x.start,
            end=x.end,
            speaker=x.speaker,
            text=x.text,
            link=moment_link(episode.url, x.start, episode.id),
        )
        for x in spans
    ]


@router.delete(
    "/{episode_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[WriteAccess],
    responses=_NOT_FOUND,
)
async def delete_episode(episode_id: str, services: ServicesDep) -> None:
    """Remove an episode from the catalog and from every index."""
    await run_in_threadpool(services.delete_episode, episode_id)
