"""The web UI: static ES modules from ``frontend/`` and its pages, all on the API's origin.

Every page path (``/``, ``/search``, ``/e/{id}`` …) answers ``index.html``; the page's script
reads the path. Assets live under ``/static``. No Node at run time: the files are served as is.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from castgraph.core.errors import DependencyError
from castgraph.core.settings import Settings

PAGES: tuple[str, ...] = (
    "/",
    "/search",
    "/episodes",
    "/e/{episode_id}",
    "/people",
    "/people/{name}",
    "/topics",
    "/topics/{key}",
    "/subscriptions",
)
_NO_CACHE = {"Cache-Control": "no-cache"}


def shipped() -> list[Path]:
    """Where the UI ships: the source checkout (editable installs), then the installed copy."""
    return [
        Path(__file__).resolve().parents[3] / "frontend",
        Path(sys.prefix) / "share" / "castgraph" / "frontend",
    ]


def frontend_dir(settings: Settings) -> Path:
    """The UI folder: the setting, the source checkout's ``frontend/``, or the installed copy."""
    candidates = ([settings.ui_dir] if settings.ui_dir else []) + shipped()
    for path in candidates:
        if (path / "index.html").is_file():
            return path
    raise DependencyError(
        f"the web UI files are missing (looked in {', '.join(str(c) for c in candidates)}): "
        "reinstall castgraph or set CASTGRAPH_UI_DIR to a folder with index.html"
    )


def mount(app: FastAPI, settings: Settings) -> None:
    """Serve the UI; without its files the API still runs and ``/`` says what is missing."""
    router = APIRouter(include_in_schema=False)
    try:
        folder = frontend_dir(settings)
    except DependencyError as exc:
        problem = exc

        async def missing() -> FileResponse:
            raise problem

        for path in PAGES:
            router.add_api_route(path, missing, methods=["GET"])
        app.include_router(router)
        return
    index = folder / "index.html"

    async def page() -> FileResponse:
        # no-cache: a new release's index.html must reach browsers that kept the old one.
        return FileResponse(index, media_type="text/html; charset=utf-8", headers=_NO_CACHE)

    for path in PAGES:
        router.add_api_route(path, page, methods=["GET", "HEAD"])
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=folder), name="static")
