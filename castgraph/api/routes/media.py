"""``GET /media/{episode_id}``: the episode's stored audio or video, seekable (HTTP Range).

A read route like the others: public, or (CASTGRAPH_PUBLIC_READ off) keyed, and then the
``castgraph_key`` cookie the UI sets is what a browser's ``<audio>``/``<video>`` can send.
Moment links of media without a public page (local files, the demo) point here.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from castgraph.api.deps import CatalogDep, SettingsDep
from castgraph.api.media import stored_media
from castgraph.api.schemas import ErrorOut

router = APIRouter(tags=["media"])
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The whole file", "content": {"audio/*": {}, "video/*": {}}},
    206: {"description": "The requested byte range (Content-Range)"},
    404: {"model": ErrorOut, "description": "No such episode, or no stored media for it"},
    416: {"description": "The range is past the end of the file"},
}


# Two registrations, not one with methods=[GET, HEAD]: each gets its own OpenAPI operation id.
@router.get("/media/{episode_id}", response_class=FileResponse, responses=_RESPONSES)
@router.head("/media/{episode_id}", response_class=FileResponse, responses=_RESPONSES)
async def media(episode_id: str, catalog: CatalogDep, settings: SettingsDep) -> FileResponse:
    """Stream an episode's media; ``Range: bytes=…`` gets 206 with just those bytes."""
    episode = await run_in_threadpool(catalog.get, episode_id)
    local_path = await run_in_threadpool(catalog.local_path, episode.id)
    found = await run_in_threadpool(stored_media, episode, local_path, settings.media_dir)
    # No filename: served inline, for players, not as a download.
    return FileResponse(found.path, media_type=found.media_type)
