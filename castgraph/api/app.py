"""The FastAPI application: ``create_app(settings)`` (OpenAPI docs at ``/docs``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from castgraph import __version__
from castgraph.api.admission import admission, retry_headers, widen_threadpool
from castgraph.api.auth import ReadAccess
from castgraph.api.ratelimit import rate_limits
from castgraph.api.routes import (
    chat,
    episodes,
    health,
    jobs,
    media,
    openai_compat,
    people,
    search,
    speakers,
    subscriptions,
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
        widen_threadpool(settings.max_inflight)  # the loop that serves is running now
        if services is None:
            from castgraph.api.wiring import open_services

            app.state.services = open_services(settings)
        else:
            app.state.services = services(settings)
        from castgraph.api.worker import start_worker

        # The scheduler tick and job worker: this process is the data directory's one writer.
        app.state.worker = start_worker(settings, app.state.services)
        try:
            yield
        finally:
            if app.state.worker is not None:
                app.state.worker.stop()
            app.state.services.close()

    app = FastAPI(
        title="castgraph",
        version=__version__,
        description="Question a YouTube channel in Spanish or English, with cited moments.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.rate_limits = rate_limits(settings)
    app.state.admission = admission(settings)
    app.add_exception_handler(CastgraphError, _castgraph_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    # Every /api, /v1 and /media router: public, or keyed when CASTGRAPH_PUBLIC_READ is off.
    api = (search, chat, openai_compat, episodes, speakers, people, topics, media)
    for module in (*api, jobs, subscriptions):
        app.include_router(module.router, dependencies=[ReadAccess])
    app.include_router(health.router)  # probes stay public
    ui.mount(app, settings)  # last: its page routes must never shadow an API route
    return app


async def _castgraph_error(_request: Request, exc: CastgraphError) -> JSONResponse:
    code = next((c for kind, c in _STATUS if isinstance(exc, kind)), 500)
    return JSONResponse({"detail": str(exc)}, status_code=code, headers=retry_headers(exc))


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """OpenAI's error envelope under /v1 (its clients show ``error.message``); FastAPI's
    ``{"detail"}`` elsewhere. Headers such as ``Retry-After`` are kept."""
    if not request.url.path.startswith("/v1/"):
        return await http_exception_handler(request, exc)
    kind = {401: "invalid_api_key", 429: "rate_limit_exceeded"}.get(exc.status_code, "error")
    body = {"error": {"message": str(exc.detail), "type": kind, "code": exc.status_code}}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


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
