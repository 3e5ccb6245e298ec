"""Jobs: queued work, taken one at a time by a worker, with progress, cancel and a sweep.

A worker takes a job with a compare-and-set on its state, so two workers never run one job; it
beats a heartbeat while working. The sweep returns jobs whose worker died (its process is gone,
or its heartbeat is older than a timeout) to the queue: ingestion is idempotent (episodes are
keyed by source id and pipeline version), so running a job again finishes it without doubling.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from castgraph.catalog import _rows
from castgraph.catalog._rows import Sessions, naive
from castgraph.catalog.schema import JobRow, RunRow
from castgraph.core.errors import NotFoundError
from castgraph.core.jobs import IngestRequest, Job, JobKind, JobProgress, JobState, RunState

log = logging.getLogger(__name__)

_QUEUED, _RUNNING = JobState.QUEUED.value, JobState.RUNNING.value


class JobStore:
    """Jobs in the catalog; every method is one transaction."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    def submit(self, request: IngestRequest, now: datetime) -> Job:
        """Queue an ingest job."""
        with self._sessions() as s:
            row = JobRow(
                kind=JobKind.INGEST.value,
                request=request.as_json(),
                state=_QUEUED,
                created_at=naive(now),
                progress={},
            )
            s.add(row)
            s.flush()
            return _rows.job(row)

    def get(self, job_id: int) -> Job:
        with self._sessions() as s:
            row = s.get(JobRow, job_id)
            if row is None:
                raise NotFoundError(f"no job {job_id}: GET /api/jobs lists them")
            return _rows.job(row, subscription_of(s, row))

    def all(self, limit: int = 50, state: JobState | None = None) -> list[Job]:
        """The latest jobs first."""
        with self._sessions() as s:
            query = (
                select(JobRow, RunRow.subscription_id)
                .outerjoin(RunRow, RunRow.id == JobRow.run_id)
                .order_by(JobRow.id.desc())
                .limit(limit)
            )
            if state is not None:
                query = query.where(JobRow.state == state.value)
            return [_rows.job(r, sub) for r, sub in s.execute(query).all()]

    def take(self, owner: str, now: datetime) -> Job | None:
        """The oldest queued job, now running for ``owner``; None when none is queued."""
        with self._sessions() as s:
            if s.get_bind().dialect.name == "postgresql":
                # Row locks: concurrent takers skip the job being taken instead of queueing
                # behind it, so each gets a different job in one round trip.
                job_id = s.scalars(_oldest_queued().with_for_update(skip_locked=True)).first()
                return None if job_id is None else mark_taken(s, job_id, owner, now)
        for _ in range(5):  # another worker may take the one we saw: look again
            with self._sessions() as s:
                job_id = s.scalars(_oldest_queued()).first()
            if job_id is None:
                return None
            # A write transaction of its own: a SQLite reader that then writes would fail once
            # another process wrote since its read.
            with self._sessions() as s:
                taken = mark_taken(s, job_id, owner, now)
            if taken is not None:
                return taken
        return None

    def heartbeat(self, job_id: int, owner: str, now: datetime) -> None:
        with self._sessions() as s:
            s.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.owner == owner, JobRow.state == _RUNNING)
                .values(heartbeat_at=naive(now))
            )

    def set_progress(self, job_id: int, progress: JobProgress) -> bool:
        """Store the job's progress; returns whether a cancel was requested meanwhile."""
        with self._sessions() as s:
            row = s.get(JobRow, job_id)
            if row is None:
                return True
            row.progress = asdict(progress)
            return bool(row.cancel_requested)

    def cancel(self, job_id: int, now: datetime) -> Job:
        """A queued job is cancelled at once; a running one stops at its next safe point."""
        with self._sessions() as s:
            # Locked (PostgreSQL): a worker taking it meanwhile is seen, never overwritten.
            row = s.get(JobRow, job_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"no job {job_id}: GET /api/jobs lists them")
            if row.state == _QUEUED:
                row.state, row.ended_at, row.error = "cancelled", naive(now), "cancelled"
                _set_run(s, row, RunState.CANCELLED, now)
            elif row.state == _RUNNING:
                row.cancel_requested = True
            s.flush()
            return _rows.job(row, subscription_of(s, row))

    def release(self, job_id: int) -> None:
        """Back to the queue (the worker is stopping): another start finishes it."""
        with self._sessions() as s:
            row = s.get(JobRow, job_id, with_for_update=True)
            if row is not None and row.state == _RUNNING:
                row.state, row.owner = _QUEUED, None
                _set_run(s, row, RunState.QUEUED, None)

    def finish(self, job_id: int, state: JobState, now: datetime, error: str | None) -> None:
        with self._sessions() as s:
            row = s.get(JobRow, job_id)
            if row is None:
                return
            row.state, row.ended_at, row.error = state.value, naive(now), error

    def retry(self, job_id: int, now: datetime) -> Job:
        """A new ingest job with the request of ``job_id`` (a run retries by its subscription)."""
        old = self.get(job_id)
        return self.submit(old.request, now)

    def sweep(
        self,
        now: datetime,
        *,
        timeout: float,
        dead: Callable[[str], bool],
        max_attempts: int = 3,
    ) -> list[int]:
        """Requeue running jobs whose worker died (``dead(owner)``, or no heartbeat within
        ``timeout`` seconds); after ``max_attempts`` they fail. Returns the jobs swept."""
        stale = naive(now - timedelta(seconds=timeout))
        swept: list[int] = []
        with self._sessions() as s:
            # Locked rows are skipped (PostgreSQL): another sweeper has them, or their worker is
            # beating right now, and a requeued job retaken meanwhile is never requeued again.
            running = select(JobRow).where(JobRow.state == _RUNNING).order_by(JobRow.id)
            rows = s.scalars(running.with_for_update(skip_locked=True)).all()
            for row in rows:
                beat = row.heartbeat_at or row.started_at
                if not (dead(row.owner or "") or beat is None or beat < stale):
                    continue
                swept.append(row.id)
                if row.cancel_requested or (row.attempts or 0) >= max_attempts:
                    state = JobState.CANCELLED if row.cancel_requested else JobState.FAILED
                    row.state, row.ended_at = state.value, naive(now)
                    row.error = f"worker died (attempt {row.attempts})"
                    run_state = RunState(state.value)
                    _set_run(s, row, run_state, now, note=row.error)
                else:
                    row.state, row.owner, row.error = _QUEUED, None, "worker died: requeued"
                    _set_run(s, row, RunState.QUEUED, None)
                log.warning("job swept", extra={"job": row.id, "state": row.state})
        return swept


def _oldest_queued() -> Select[int]:
    return select(JobRow.id).where(JobRow.state == _QUEUED).order_by(JobRow.id).limit(1)


def mark_taken(s: Session, job_id: int, owner: str, now: datetime) -> Job | None:
    """Compare-and-set queued → running; None when another worker took the job first."""
    taken = s.execute(
        update(JobRow)
        .where(JobRow.id == job_id, JobRow.state == _QUEUED)
        .values(
            state=_RUNNING,
            owner=owner,
            started_at=naive(now),
            heartbeat_at=naive(now),
            attempts=JobRow.attempts + 1,
            error=None,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(taken, "rowcount", 0) != 1:
        return None
    row = s.get(JobRow, job_id, populate_existing=True)
    assert row is not None
    if row.run_id is not None:
        s.execute(
            update(RunRow)
            .where(RunRow.id == row.run_id)
            .values(state=RunState.RUNNING.value, started_at=naive(now))
        )
    return _rows.job(row, subscription_of(s, row))


def _set_run(
    s: Session, row: JobRow, state: RunState, now: datetime | None, note: str | None = None
) -> None:
    if row.run_id is None:
        return
    values: dict[str, object] = {"state": state.value}
    if now is not None:
        values["ended_at"] = naive(now)
    if note is not None:
        values["note"] = note
    s.execute(update(RunRow).where(RunRow.id == row.run_id).values(**values))


def subscription_of(s: Session, row: JobRow) -> int | None:
    if row.run_id is None:
        return None
    run = s.get(RunRow, row.run_id)
    return run.subscription_id if run is not None else None
