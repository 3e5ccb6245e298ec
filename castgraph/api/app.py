"""The FastAPI application: ``create_app(settings)`` (OpenAPI docs at ``/docs``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from castgraph import __version__
from castgraph.api.routes import (
    chat,
    episodes,
    health,
    media,
    openai_compat,
    people,
    search,
    speakers,
    topics,
    ui,
)
from castgraph.api.services import Services
from castgraph.core.errors import (
    CastgraphError,
    DependencyError,
    GenerationError,
    InputError,
    LockedError,
    ModelError,
    NotFoundError,
    StorageError,
)
from castgraph.core.settings import Settings

ServicesFactory = Callable[[Settings], Services]

_STATUS: tuple[tuple[type[CastgraphError], int], ...] = (
    (InputError, 422),
    (NotFoundError, 404),
    (LockedError, 409),
    (DependencyError, 503),
    (ModelError, 503),
    (StorageError, 503),
    (GenerationError, 503),
)


def create_app(settings: Settings, services: ServicesFactory | None = None) -> FastAPI:
    """The app; ``services`` builds what it serves (defaults to the configured backends)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if services is None:
            from castgraph.api.wiring import open_services

            app.state.services = open_services(settings)
        else:
            app.state.services = services(settings)
        try:
            yield
        finally:
            app.state.services.close()

    app = FastAPI(
        title="castgraph",
        version=__version__,
        description="Question a YouTube channel in Spanish or English, with cited moments.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.add_exception_handler(CastgraphError, _castgraph_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    for module in (search, chat, openai_compat, episodes, speakers, people, topics, media, health):
        app.include_router(module.router)
    ui.mount(app, settings)  # last: its page routes must never shadow an API route
    return app


async def _castgraph_error(_request: Request, exc: CastgraphError) -> JSONResponse:
    code = next((c for kind, c in _STATUS if isinstance(exc, kind)), 500)
    return JSONResponse({"detail": str(exc)}, status_code=code)


async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    """One readable sentence per problem, plus the structured list FastAPI would give."""
    problems = [
        f"{'.'.join(str(p) for p in e['loc'] if p not in ('query', 'body'))}: {e['msg']}"
        for e in exc.errors()
    ]
    return JSONResponse(
        {"detail": "; ".join(problems), "errors": jsonable(exc.errors())}, status_code=422
    )


def jsonable(errors: object) -> object:
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(errors)
