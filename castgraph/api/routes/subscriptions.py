"""``/api/subscriptions`` and ``/api/runs``: sources ingested on a schedule, and their runs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from castgraph.api import scheduling
from castgraph.api.deps import CatalogDep, SettingsDep, WriteAccess
from castgraph.api.job_schemas import RunOut, SubscriptionIn, SubscriptionOut
from castgraph.api.jobrun import utcnow
from castgraph.api.routes.jobs import wake_worker
from castgraph.api.schemas import ErrorOut

router = APIRouter(prefix="/api", tags=["subscriptions"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "The API key is set and was not given"},
    404: {"model": ErrorOut, "description": "No such subscription or run"},
}


@router.get("/subscriptions", response_model=list[SubscriptionOut])
async def list_subscriptions(catalog: CatalogDep) -> list[SubscriptionOut]:
    """Every subscription with its schedule, pause state, next due time and last run."""
    return await run_in_threadpool(scheduling.subscriptions_out, catalog)


@router.post(
    "/subscriptions",
    response_model=SubscriptionOut,
    status_code=status.HTTP_201_CREATED,
    dependencies=[WriteAccess],
    responses={**_ERRORS, 422: {"model": ErrorOut, "description": "Bad source, cron or zone"}},
)
async def subscribe(
    body: SubscriptionIn, response: Response, settings: SettingsDep, catalog: CatalogDep
) -> SubscriptionOut:
    """Subscribe to a source (201); the same source again updates its schedule (200)."""

    def work() -> tuple[SubscriptionOut, bool]:
        req = scheduling.request_of(
            settings, body.source, remote=True, language=body.language,
            captions=body.captions, limit=body.limit,
        )  # fmt: skip
        sub, created = scheduling.subscribe(
            settings, catalog, req, cron=body.cron, timezone=body.timezone
        )
        return scheduling.subscription_out(catalog, sub), created

    out, created = await run_in_threadpool(work)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return out


@router.get("/subscriptions/{sub_id}", response_model=SubscriptionOut, responses=_ERRORS)
async def get_subscription(sub_id: int, catalog: CatalogDep) -> SubscriptionOut:
    return await run_in_threadpool(
        lambda: scheduling.subscription_out(catalog, catalog.subscriptions.get(sub_id))
    )


@router.delete(
    "/subscriptions/{sub_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[WriteAccess],
    responses=_ERRORS,
)
async def unsubscribe(sub_id: int, catalog: CatalogDep) -> None:
    """Remove the subscription and its runs; its episodes stay."""
    await run_in_threadpool(catalog.subscriptions.delete, sub_id)


@router.post(
    "/subscriptions/{sub_id}/pause",
    response_model=SubscriptionOut,
    dependencies=[WriteAccess],
    responses=_ERRORS,
)
async def pause(sub_id: int, catalog: CatalogDep) -> SubscriptionOut:
    """Stop scheduling runs until resumed."""
    sub = await run_in_threadpool(scheduling.pause_by_hand, catalog, sub_id)
    return await run_in_threadpool(scheduling.subscription_out, catalog, sub)


@router.post(
    "/subscriptions/{sub_id}/resume",
    response_model=SubscriptionOut,
    dependencies=[WriteAccess],
    responses=_ERRORS,
)
async def resume(sub_id: int, catalog: CatalogDep) -> SubscriptionOut:
    """Schedule again (also ends an automatic pause); the next run is the next due time."""
    sub = await run_in_threadpool(catalog.subscriptions.resume, sub_id, utcnow())
    return await run_in_threadpool(scheduling.subscription_out, catalog, sub)


@router.post(
    "/subscriptions/{sub_id}/run",
    response_model=RunOut,
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[WriteAccess],
    responses=_ERRORS,
)
async def run_now(sub_id: int, request: Request, catalog: CatalogDep) -> RunOut:
    """Run now (or return the run already queued or running)."""
    run = await run_in_threadpool(catalog.subscriptions.run_now, sub_id, utcnow())
    wake_worker(request)
    return RunOut.of(run)


@router.get("/runs", response_model=list[RunOut])
async def list_runs(
    catalog: CatalogDep,
    subscription: int | None = None,
    limit: int = Query(default=50, ge=1, le=500),
) -> list[RunOut]:
    """The latest runs first: counts, each episode's outcome and the errors by kind."""
    runs = await run_in_threadpool(catalog.subscriptions.runs, subscription, limit)
    return [RunOut.of(r) for r in runs]


@router.get("/runs/{run_id}", response_model=RunOut, responses=_ERRORS)
async def get_run(run_id: int, catalog: CatalogDep) -> RunOut:
    return RunOut.of(await run_in_threadpool(catalog.subscriptions.get_run, run_id))


@router.post(
    "/runs/{run_id}/retry",
    response_model=RunOut,
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[WriteAccess],
    responses=_ERRORS,
)
async def retry_run(run_id: int, request: Request, catalog: CatalogDep) -> RunOut:
    """A new run of the run's subscription now (already-ingested items are skipped)."""

    def work() -> RunOut:
        old = catalog.subscriptions.get_run(run_id)
        return RunOut.of(scheduling.retry_subscription(catalog, old.subscription_id))

    out = await run_in_threadpool(work)
    wake_worker(request)
    return out
