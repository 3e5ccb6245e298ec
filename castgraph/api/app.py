"""The FastAPI application: ``create_app(settings)`` (OpenAPI docs at ``/docs``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from castgraph import __version__
from castgraph.api import errors, openapi_doc
from castgraph.api.admission import admission, widen_threadpool
from castgraph.api.auth import ReadAccess
from castgraph.api.limits import RequestLimits
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
from castgraph.core.settings import Settings
from castgraph.retrieval.embeddings.base import one_blas_thread

ServicesFactory = Callable[[Settings], Services]


def create_app(settings: Settings, services: ServicesFactory | None = None) -> FastAPI:
    """The app; ``services`` builds what it serves (defaults to the configured backends)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        widen_threadpool(settings.max_inflight)  # the loop that serves is running now
        one_blas_thread()  # requests run in parallel; a query's tiny matrices gain nothing
        if services is None:
            from castgraph.api.wiring import open_services

            app.state.services = open_services(settings, search_workers=True)
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
    errors.install(app)  # one mapping of errors to statuses and bodies, /api and /v1 alike
    openapi_doc.install(app)  # the document shows those bodies, and the refusals below
    app.add_middleware(
        RequestLimits,  # outermost: oversized, undecodable or slow requests never reach a route
        max_body_bytes=settings.max_body_bytes,
        max_url_bytes=settings.max_url_bytes,
        body_timeout_s=settings.client_timeout_s,
    )
    # Every /api, /v1 and /media router: public, or keyed when CASTGRAPH_PUBLIC_READ is off.
    api = (search, chat, openai_compat, episodes, speakers, people, topics, media)
    for module in (*api, jobs, subscriptions):
        app.include_router(module.router, dependencies=[ReadAccess])
    app.include_router(health.router)  # probes stay public
    ui.mount(app, settings)  # last: its page routes must never shadow an API route
    return app
