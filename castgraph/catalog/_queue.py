"""What the distributed queue keeps in the catalog: episode leases and the episodes of each job.

A lease makes one job's steps the only ones processing an episode: it is taken with a
compare-and-set (free, expired, or already ours), renewed while a step works, and released when
the episode's last step ends. A job's items record each episode's outcome; the step that
records the last one learns so (the job row is locked first, so two steps ending together
cannot both miss it, nor both see it) and finishes the job.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.orm import Session

from castgraph.catalog import _rows
from castgraph.catalog._jobs import mark_taken
from castgraph.catalog._rows import Sessions, naive
from castgraph.catalog.schema import EpisodeRow, JobItemRow, JobRow, RunRow
from castgraph.core.jobs import EpisodeOutcome, Job, JobState, RunState

PENDING = "pending"


class LeaseStore:
    """Episode leases; every method is one transaction."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    def acquire(self, episode_id: str, owner: str, now: datetime, seconds: float) -> bool:
        """Take (or renew) the episode's lease unless another owner holds an unexpired one."""
        at = naive(now)
        with self._sessions() as s:
            taken = s.execute(
                update(EpisodeRow)
                .where(
                    EpisodeRow.id == episode_id,
                    or_(
                        EpisodeRow.lease_owner.is_(None),
                        EpisodeRow.lease_owner == owner,
                        EpisodeRow.lease_until.is_(None),
                        EpisodeRow.lease_until < at,
                    ),
                )
                .values(
                    lease_owner=owner,
                    lease_until=at + timedelta(seconds=seconds),
                    updated_at=EpisodeRow.updated_at,  # a lease is not a change of the episode
                )
                .execution_options(synchronize_session=False)
            )
            return getattr(taken, "rowcount", 0) == 1

    def renew(self, episode_id: str, owner: str, now: datetime, seconds: float) -> bool:
        """Hold a lease ``owner`` still holds until at least ``now + seconds`` (never shorter,
        never re-taken once released)."""
        until = naive(now) + timedelta(seconds=seconds)
        with self._sessions() as s:
            renewed = s.execute(
                update(EpisodeRow)
                .where(EpisodeRow.id == episode_id, EpisodeRow.lease_owner == owner)
                .values(
                    lease_until=case(
                        (EpisodeRow.lease_until > until, EpisodeRow.lease_until), else_=until
                    ),
                    updated_at=EpisodeRow.updated_at,
                )
                .execution_options(synchronize_session=False)
            )
            return getattr(renewed, "rowcount", 0) == 1

    def release(self, episode_id: str, owner: str) -> None:
        with self._sessions() as s:
            s.execute(
                update(EpisodeRow)
                .where(EpisodeRow.id == episode_id, EpisodeRow.lease_owner == owner)
                .values(lease_owner=None, lease_until=None, updated_at=EpisodeRow.updated_at)
                .execution_options(synchronize_session=False)
            )

    def holder(self, episode_id: str) -> tuple[str | None, datetime | None]:
        with self._sessions() as s:
            row = s.get(EpisodeRow, episode_id)
            if row is None:
                return None, None
            return row.lease_owner, _rows.aware(row.lease_until)


class JobItemStore:
    """The episodes of the jobs the distributed queue runs."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    def claim(self, job_id: int, owner: str, now: datetime) -> Job | None:
        """The queued job ``job_id``, now running for ``owner``; None when it is not queued
        (another worker took it, or it was cancelled or finished)."""
        with self._sessions() as s:
            return mark_taken(s, job_id, owner, now)

    def add(self, job_id: int, items: Sequence[tuple[str, str]]) -> list[str]:
        """Record the job's episodes (id, title) once; returns those still pending."""
        with self._sessions() as s:
            known = set(s.scalars(select(JobItemRow.episode_id).where(JobItemRow.job_id == job_id)))
            for ordinal, (episode_id, title) in enumerate(items):
                if episode_id not in known:
                    s.add(
                        JobItemRow(
                            job_id=job_id,
                            episode_id=episode_id,
                            ordinal=ordinal,
                            title=title,
                            state=PENDING,
                            attempts=0,
                        )
                    )
            s.flush()
            return list(
                s.scalars(
                    select(JobItemRow.episode_id)
                    .where(JobItemRow.job_id == job_id, JobItemRow.state == PENDING)
                    .order_by(JobItemRow.ordinal)
                )
            )

    def finish(self, job_id: int, outcome: EpisodeOutcome, now: datetime) -> bool:
        """Record one episode's outcome (once); True for the call that ends the job's last one."""
        with self._sessions() as s:
            # The job row first: it serialises the items' endings (a row lock on PostgreSQL,
            # the database lock on SQLite), so exactly one caller sees none pending.
            s.execute(
                update(JobRow)
                .where(JobRow.id == job_id)
                .values(heartbeat_at=naive(now))
                .execution_options(synchronize_session=False)
            )
            ended = s.execute(
                update(JobItemRow)
                .where(
                    JobItemRow.job_id == job_id,
                    JobItemRow.episode_id == outcome.episode_id,
                    JobItemRow.state == PENDING,
                )
                .values(
                    state=outcome.state,
                    error=outcome.error,
                    kind=outcome.kind,
                    attempts=outcome.attempts,
                )
                .execution_options(synchronize_session=False)
            )
            if getattr(ended, "rowcount", 0) != 1:
                return False  # recorded before (a redelivered step): someone else ends the job
            left = s.scalar(
                select(func.count())
                .select_from(JobItemRow)
                .where(JobItemRow.job_id == job_id, JobItemRow.state == PENDING)
            )
            return left == 0

    def attempt(self, job_id: int, episode_id: str) -> int:
        """Count one more try of the episode's current step; returns the count."""
        with self._sessions() as s:
            s.execute(
                update(JobItemRow)
                .where(JobItemRow.job_id == job_id, JobItemRow.episode_id == episode_id)
                .values(attempts=JobItemRow.attempts + 1)
                .execution_options(synchronize_session=False)
            )
            count = s.scalar(
                select(JobItemRow.attempts).where(
                    JobItemRow.job_id == job_id, JobItemRow.episode_id == episode_id
                )
            )
            return int(count or 1)

    def reset_attempts(self, job_id: int, episode_id: str) -> None:
        """The next step starts counting its own tries."""
        with self._sessions() as s:
            s.execute(
                update(JobItemRow)
                .where(JobItemRow.job_id == job_id, JobItemRow.episode_id == episode_id)
                .values(attempts=0)
                .execution_options(synchronize_session=False)
            )

    def pending(self, job_id: int) -> int:
        with self._sessions() as s:
            return int(
                s.scalar(
                    select(func.count())
                    .select_from(JobItemRow)
                    .where(JobItemRow.job_id == job_id, JobItemRow.state == PENDING)
                )
                or 0
            )

    def claim_end(self, job_id: int, now: datetime) -> bool:
        """The right to finish a running job (compare-and-set on its end time); a claim older
        than a minute is one whose finisher died, and may be taken again."""
        at = naive(now)
        with self._sessions() as s:
            claimed = s.execute(
                update(JobRow)
                .where(
                    JobRow.id == job_id,
                    JobRow.state == JobState.RUNNING.value,
                    or_(JobRow.ended_at.is_(None), JobRow.ended_at < at - timedelta(minutes=1)),
                )
                .values(ended_at=at)
                .execution_options(synchronize_session=False)
            )
            return getattr(claimed, "rowcount", 0) == 1

    def ended_but_running(self) -> list[int]:
        """Running jobs whose every episode has ended (whoever ended the last one died before
        finishing the job)."""
        with self._sessions() as s:
            pending = (
                select(JobItemRow.job_id)
                .where(JobItemRow.job_id == JobRow.id, JobItemRow.state == PENDING)
                .exists()
            )
            has_items = select(JobItemRow.job_id).where(JobItemRow.job_id == JobRow.id).exists()
            query = select(JobRow.id).where(
                JobRow.state == JobState.RUNNING.value, has_items, ~pending
            )
            return list(s.scalars(query))

    def outcomes(self, job_id: int) -> list[EpisodeOutcome]:
        with self._sessions() as s:
            rows = s.scalars(
                select(JobItemRow).where(JobItemRow.job_id == job_id).order_by(JobItemRow.ordinal)
            ).all()
            return [
                EpisodeOutcome(r.episode_id, r.title, r.state, r.error, r.kind, r.attempts or 1)
                for r in rows
            ]

    def touch(self, job_id: int, now: datetime) -> None:
        """The job's heartbeat: one of its steps is alive (the sweep leaves it alone)."""
        with self._sessions() as s:
            s.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.state == JobState.RUNNING.value)
                .values(heartbeat_at=naive(now))
                .execution_options(synchronize_session=False)
            )

    def requeue_orphans(self, now: datetime, timeout: float) -> list[int]:
        """Running jobs with no items and no heartbeat for ``timeout`` seconds (their worker
        died while planning) go back to the queue; jobs with items live on in their steps,
        which the broker redelivers."""
        stale = naive(now - timedelta(seconds=timeout))
        with self._sessions() as s:
            has_items = select(JobItemRow.job_id).where(JobItemRow.job_id == JobRow.id).exists()
            ids = list(
                s.scalars(
                    select(JobRow.id).where(
                        JobRow.state == JobState.RUNNING.value,
                        or_(JobRow.heartbeat_at.is_(None), JobRow.heartbeat_at < stale),
                        ~has_items,
                    )
                )
            )
            if ids:
                self._requeue(s, ids, "worker died: requeued")
            return ids

    def requeue(self, job_id: int, reason: str) -> None:
        """A running job back to the queue (its planning is to be tried again)."""
        with self._sessions() as s:
            self._requeue(s, [job_id], reason)

    @staticmethod
    def _requeue(s: Session, ids: list[int], reason: str) -> None:
        s.execute(
            update(JobRow)
            .where(JobRow.id.in_(ids), JobRow.state == JobState.RUNNING.value)
            .values(state=JobState.QUEUED.value, owner=None, error=reason)
            .execution_options(synchronize_session=False)
        )
        runs = select(JobRow.run_id).where(JobRow.id.in_(ids), JobRow.run_id.is_not(None))
        s.execute(
            update(RunRow)
            .where(RunRow.id.in_(runs))
            .values(state=RunState.QUEUED.value)
            .execution_options(synchronize_session=False)
        )
