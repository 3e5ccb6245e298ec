"""``PUT /api/episodes/{id}/speakers/{label}``: name a speaker (needs the API key when set)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from castgraph.api.browse_schemas import SpeakerRename
from castgraph.api.deps import ServicesDep, WriteAccess
from castgraph.api.schemas import ErrorOut
from castgraph.api.services import Services
from castgraph.api.speaker_schemas import SpeakerOut
from castgraph.core.models import Episode

router = APIRouter(prefix="/api/episodes", tags=["episodes"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "The API key is set and was not given"},
    404: {"model": ErrorOut, "description": "No such episode, or no such speaker in it"},
    422: {"model": ErrorOut, "description": "Empty or over-long name"},
}


@router.put(
    "/{episode_id}/speakers/{label}",
    response_model=list[SpeakerOut],
    dependencies=[WriteAccess],
    responses=_ERRORS,
)
async def rename_speaker(
    episode_id: str, label: str, body: SpeakerRename, services: ServicesDep
) -> list[SpeakerOut]:
    """Name the speaker ``label`` (e.g. SPEAKER_00, or its current name); later episodes with
    the same voice get the name too. An indexed episode is re-indexed, so search and answers
    cite the new name. Returns the episode's speakers."""
    episode = await run_in_threadpool(_rename, services, episode_id, label, body.name)
    speakers = await run_in_threadpool(services.catalog.speakers, episode.id)
    return [SpeakerOut.of(sp, episode) for sp in speakers]


def _rename(services: Services, episode_id: str, label: str, name: str) -> Episode:
    # imported here, as app.py does: wiring pulls in the ingestion stages
    from castgraph.api.wiring import rename_speaker

    return rename_speaker(services, episode_id, label, name)
