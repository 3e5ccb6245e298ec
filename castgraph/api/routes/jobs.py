"""``POST /api/ingest`` and ``/api/jobs``: queued ingestion with progress, cancel and retry."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, status
from fastapi.concurrency import run_in_threadpool

from castgraph.api import scheduling
from castgraph.api.deps import CatalogDep, SettingsDep, WriteAccess
from castgraph.api.job_schemas import IngestIn, JobAccepted, JobOut
from castgraph.api.jobrun import utcnow
from castgraph.api.schemas import ErrorOut
from castgraph.core.jobs import Job, JobState

router = APIRouter(prefix="/api", tags=["jobs"])
_WRITE: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "The API key is set and was not given"},
    404: {"model": ErrorOut, "description": "No such job"},
}


def wake_worker(request: Request) -> None:
    """Let the server's worker start on new work now instead of at its next tick."""
    worker = getattr(request.app.state, "worker", None)
    if worker is not None:
        worker.wake()


def _accepted(job: Job) -> JobAccepted:
    return JobAccepted(id=job.id, state=job.state.value, url=f"/api/jobs/{job.id}")


@router.post(
    "/ingest",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobAccepted,
    dependencies=[WriteAccess],
    responses={**_WRITE, 422: {"model": ErrorOut, "description": "Unusable or refused URL"}},
)
async def ingest(
    body: IngestIn, request: Request, settings: SettingsDep, catalog: CatalogDep
) -> JobAccepted:
    """Queue the ingestion of a URL; follow it at ``GET /api/jobs/{id}``."""
    req = await run_in_threadpool(
        scheduling.request_of,
        settings,
        body.url,
        remote=True,
        language=body.language,
        captions=body.captions,
        limit=body.limit,
        force=body.force,
    )
    job = await run_in_threadpool(scheduling.queue_ingest, catalog, req)
    wake_worker(request)
    return _accepted(job)


@router.get("/jobs", response_model=list[JobOut])
async def list_jobs(
    catalog: CatalogDep,
    state: JobState | None = None,
    limit: int = Query(default=50, ge=1, le=500),
) -> list[JobOut]:
    """The latest jobs first, with their state and progress."""
    jobs = await run_in_threadpool(catalog.jobs.all, limit, state)
    return [JobOut.of(j) for j in jobs]


@router.get("/jobs/{job_id}", response_model=JobOut, responses=_WRITE)
async def get_job(job_id: int, catalog: CatalogDep) -> JobOut:
    """State and progress: stage, percent, current episode, counts."""
    return JobOut.of(await run_in_threadpool(catalog.jobs.get, job_id))


# One handler, two routes (``name`` keeps each its own OpenAPI operation id and summary).
@router.delete(
    "/jobs/{job_id}",
    response_model=JobOut,
    dependencies=[WriteAccess],
    responses=_WRITE,
    name="delete_job",
    description="The same as ``POST /api/jobs/{id}/cancel`` (jobs are kept as history).",
)
@router.post(
    "/jobs/{job_id}/cancel", response_model=JobOut, dependencies=[WriteAccess], responses=_WRITE
)
async def cancel_job(job_id: int, catalog: CatalogDep) -> JobOut:
    """Cancel: a queued job at once, a running one between episodes or stages."""
    return JobOut.of(await run_in_threadpool(catalog.jobs.cancel, job_id, utcnow()))


@router.post(
    "/jobs/{job_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobAccepted,
    dependencies=[WriteAccess],
    responses=_WRITE,
)
async def retry_job(job_id: int, request: Request, catalog: CatalogDep) -> JobAccepted:
    """Queue the job's request again (a subscription run: a new run of its subscription)."""
    job = await run_in_threadpool(_retry, catalog, job_id)
    wake_worker(request)
    return _accepted(job)


def _retry(catalog: Any, job_id: int) -> Job:
    job = catalog.jobs.get(job_id)
    if job.subscription_id is not None:
        run = scheduling.retry_subscription(catalog, job.subscription_id)
        return catalog.jobs.get(run.job_id)  # type: ignore[no-any-return]
    return catalog.jobs.retry(job_id, utcnow())  # type: ignore[no-any-return]
