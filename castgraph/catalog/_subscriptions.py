"""Subscriptions and their runs; the tick's atomic claim of due subscriptions.

A claim is one transaction that first moves the subscription's ``next_due_at`` forward only if it
still holds the due time this tick read (compare-and-set), then inserts the run for that due time
(unique per subscription and due time) and its job. Two ticks, or a server restarted mid-tick,
therefore never make two runs of one due time; due times missed while nothing ran collapse into
one run, because the next due time is computed from *now*.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from castgraph.catalog import _rows
from castgraph.catalog._rows import Sessions, naive
from castgraph.catalog.schema import JobRow, RunRow, SubscriptionRow
from castgraph.core.cron import next_after
from castgraph.core.errors import NotFoundError, StorageError
from castgraph.core.jobs import (
    EpisodeOutcome,
    IngestRequest,
    JobKind,
    JobState,
    Run,
    RunError,
    RunState,
    Subscription,
    SubscriptionState,
)

log = logging.getLogger(__name__)

OPEN_RUN_STATES = (RunState.QUEUED.value, RunState.RUNNING.value)


class SubscriptionStore:
    """Subscriptions and runs in the catalog; every method is one transaction."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    def add(
        self, request: IngestRequest, cron: str, tz: str, now: datetime
    ) -> tuple[Subscription, bool]:
        """Subscribe to ``request.source`` (True), or update the existing subscription (False)."""
        due = naive(next_after(cron, tz, now))
        with self._sessions() as s:
            row = s.scalars(
                select(SubscriptionRow).where(SubscriptionRow.source == request.source)
            ).first()
            created = row is None
            if row is None:
                row = SubscriptionRow(source=request.source, created_at=naive(now))
                s.add(row)
            row.options = {"language": request.language, "captions": request.captions}
            row.options["limit"] = request.limit
            row.cron, row.timezone, row.next_due_at = cron, tz, due
            row.state, row.updated_at = SubscriptionState.ACTIVE.value, naive(now)
            s.flush()
            return _rows.subscription(row), created

    def all(self) -> list[Subscription]:
        with self._sessions() as s:
            rows = s.scalars(select(SubscriptionRow).order_by(SubscriptionRow.id)).all()
            return [_rows.subscription(r) for r in rows]

    def get(self, subscription_id: int) -> Subscription:
        with self._sessions() as s:
            return _rows.subscription(_subscription(s, subscription_id))

    def delete(self, subscription_id: int) -> Subscription:
        """Remove a subscription with its runs (episodes it ingested stay)."""
        with self._sessions() as s:
            row = _subscription(s, subscription_id)
            found = _rows.subscription(row)
            run_ids = select(RunRow.id).where(RunRow.subscription_id == row.id)
            jobs = update(JobRow).where(JobRow.run_id.in_(run_ids))
            s.execute(
                jobs.where(JobRow.state == "queued").values(state="cancelled", error="unsubscribed")
            )
            s.execute(jobs.where(JobRow.state == "running").values(cancel_requested=True))
            s.delete(row)
            return found

    def pause(
        self, subscription_id: int, now: datetime, *, until: datetime | None = None, reason: str
    ) -> Subscription:
        """Pause by hand (``until`` None) or automatically until a time (e.g. a bot check)."""
        with self._sessions() as s:
            row = _subscription(s, subscription_id)
            if until is None:
                row.state = SubscriptionState.PAUSED.value
            else:
                row.paused_until = naive(until)
            row.pause_reason, row.updated_at = reason, naive(now)
            s.flush()
            return _rows.subscription(row)

    def resume(self, subscription_id: int, now: datetime) -> Subscription:
        """Active again; the next due time counts from now (no burst of missed runs)."""
        with self._sessions() as s:
            row = _subscription(s, subscription_id)
            row.state, row.paused_until, row.pause_reason = "active", None, None
            row.next_due_at = naive(next_after(row.cron, row.timezone, now))
            row.updated_at = naive(now)
            s.flush()
            return _rows.subscription(row)

    def mark_discovered(self, subscription_id: int) -> None:
        with self._sessions() as s:
            s.execute(
                update(SubscriptionRow)
                .where(SubscriptionRow.id == subscription_id)
                .values(discovered=True)
            )

    # --- runs -------------------------------------------------------------------------------

    def claim_due(self, now: datetime) -> list[Run]:
        """Claim every due, unpaused subscription: one run (and its job) per due time."""
        at = naive(now)
        with self._sessions() as s:
            due = s.execute(
                select(SubscriptionRow.id, SubscriptionRow.next_due_at)
                .where(
                    SubscriptionRow.state == SubscriptionState.ACTIVE.value,
                    SubscriptionRow.next_due_at <= at,
                    (SubscriptionRow.paused_until.is_(None)) | (SubscriptionRow.paused_until <= at),
                )
                .order_by(SubscriptionRow.id)
            ).all()
        claimed: list[Run] = []
        for subscription_id, due_at in due:
            if due_at is None:
                continue
            try:
                run = self._claim(subscription_id, due_at, now)
            except StorageError as exc:  # e.g. the run exists: another claimer won
                log.warning("claim skipped", extra={"subscription": subscription_id, "error": exc})
                continue
            if run is not None:
                claimed.append(run)
        return claimed

    def _claim(self, subscription_id: int, due_at: datetime, now: datetime) -> Run | None:
        with self._sessions() as s:
            row = s.get(SubscriptionRow, subscription_id)
            if row is None:
                return None
            nxt = naive(next_after(row.cron, row.timezone, now))
            moved = s.execute(  # the compare-and-set: a write first, so SQLite locks right here
                update(SubscriptionRow)
                .where(SubscriptionRow.id == subscription_id, SubscriptionRow.next_due_at == due_at)
                .values(next_due_at=nxt)
                .execution_options(synchronize_session=False)
            )
            if getattr(moved, "rowcount", 0) != 1:
                return None
            if _open_run(s, subscription_id) is not None:
                # Still working on an earlier due time: this one collapses into it, so a run
                # longer than the schedule's period never piles up queued runs.
                log.info("due time collapsed into the open run", extra={"subscription": row.id})
                return None
            run = _new_run(s, row, due_at, "schedule", now)
            log.info("run claimed", extra={"subscription": subscription_id, "run": run.id})
            return _rows.run(run)

    def run_now(self, subscription_id: int, now: datetime, trigger: str = "manual") -> Run:
        """A run due now, unless one is already queued or running (then that one)."""
        with self._sessions() as s:
            # A write first, that changes nothing: it takes the subscription's row lock
            # (PostgreSQL) or the file's write lock (SQLite) before the open run is looked
            # for, so concurrent run_nows and claims see each other's runs.
            s.execute(
                update(SubscriptionRow)
                .where(SubscriptionRow.id == subscription_id)
                .values(updated_at=SubscriptionRow.updated_at)  # as is: no onupdate now()
                .execution_options(synchronize_session=False)
            )
            row = _subscription(s, subscription_id)
            open_run = _open_run(s, row.id)
            if open_run is not None:
                return _rows.run(open_run)
            return _rows.run(_new_run(s, row, naive(now), trigger, now))

    def runs(self, subscription_id: int | None = None, limit: int = 50) -> list[Run]:
        """The latest runs first, of one subscription or of all."""
        with self._sessions() as s:
            query = select(RunRow).order_by(RunRow.id.desc()).limit(limit)
            if subscription_id is not None:
                query = query.where(RunRow.subscription_id == subscription_id)
            return [_rows.run(r) for r in s.scalars(query).all()]

    def last_runs(self, subscription_ids: Iterable[int]) -> dict[int, Run]:
        """Each subscription's latest run (as ``runs(id, limit=1)``) in one grouped query;
        subscriptions that never ran are absent."""
        ids = list(subscription_ids)
        if not ids:
            return {}
        latest = (
            select(func.max(RunRow.id))
            .where(RunRow.subscription_id.in_(ids))
            .group_by(RunRow.subscription_id)
        )
        with self._sessions() as s:
            rows = s.scalars(select(RunRow).where(RunRow.id.in_(latest))).all()
            return {r.subscription_id: _rows.run(r) for r in rows}

    def get_run(self, run_id: int) -> Run:
        with self._sessions() as s:
            row = s.get(RunRow, run_id)
            if row is None:
                raise NotFoundError(f"no run {run_id}: `castgraph runs` lists them")
            return _rows.run(row)

    def finish_run(
        self,
        run_id: int,
        state: RunState,
        now: datetime,
        *,
        outcomes: list[EpisodeOutcome],
        errors: list[RunError],
        found: int,
        skipped: int = 0,
        note: str | None = None,
        job: tuple[int, JobState, str | None] | None = None,
    ) -> None:
        """Record a run's end: counts, each item's outcome and the errors by kind.

        The run's job ends in the same transaction: a server killed between the two would
        otherwise find a finished run whose job still looks running, sweep it back to the queue
        and run it again (and collapse the next due time into that repeat).
        """
        with self._sessions() as s:
            if job is not None:
                s.execute(
                    update(JobRow)
                    .where(JobRow.id == job[0])
                    .values(state=job[1].value, ended_at=naive(now), error=job[2])
                    .execution_options(synchronize_session=False)
                )
            row = s.get(RunRow, run_id)
            if row is None:
                return  # unsubscribed while running
            row.state, row.ended_at, row.note, row.found = state.value, naive(now), note, found
            row.episodes = [_plain(asdict(o)) for o in outcomes]
            row.errors = [_plain(asdict(e)) for e in errors]
            row.ingested = sum(1 for o in outcomes if o.state == "indexed")
            row.failed = sum(1 for o in outcomes if o.state == "failed")
            row.skipped = skipped + sum(1 for o in outcomes if o.state == "skipped")


def _new_run(
    s: Session, sub: SubscriptionRow, due_at: datetime, trigger: str, now: datetime
) -> RunRow:
    """Insert a queued run and the job that will execute it (flushed: both have ids)."""
    run = RunRow(subscription_id=sub.id, due_at=due_at, trigger=trigger, created_at=naive(now))
    run.state = RunState.QUEUED.value
    s.add(run)
    s.flush()
    request = _rows.subscription(sub).request().as_json()
    job = JobRow(
        kind=JobKind.SUBSCRIPTION_RUN.value,
        request=request,
        state="queued",
        run_id=run.id,
        created_at=naive(now),
        progress={},
    )
    s.add(job)
    s.flush()
    run.job_id = job.id
    s.flush()
    return run


def _open_run(s: Session, subscription_id: int) -> RunRow | None:
    return s.scalars(
        select(RunRow).where(
            RunRow.subscription_id == subscription_id, RunRow.state.in_(OPEN_RUN_STATES)
        )
    ).first()


def _subscription(s: Session, subscription_id: int) -> SubscriptionRow:
    row = s.get(SubscriptionRow, subscription_id)
    if row is None:
        raise NotFoundError(
            f"no subscription {subscription_id}: `castgraph subscriptions` lists them"
        )
    return row


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}
