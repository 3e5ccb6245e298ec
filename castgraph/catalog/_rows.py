"""Conversions between the scheduler's rows and the core dataclasses; UTC handling.

SQLite keeps no time zone, so every time is stored as naive UTC and read back as aware UTC.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from castgraph.catalog.schema import JobRow, RunRow, SubscriptionRow
from castgraph.core.jobs import (
    EpisodeOutcome,
    IngestRequest,
    Job,
    JobKind,
    JobProgress,
    JobState,
    Run,
    RunError,
    RunState,
    Subscription,
    SubscriptionState,
)

Sessions = Callable[[], AbstractContextManager[Session]]
"""Opens one catalog transaction (``SqlCatalog._session``): committed on success."""


def naive(when: datetime) -> datetime:
    """``when`` as the naive UTC the catalog stores."""
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


def aware(when: datetime | None) -> datetime | None:
    return when.replace(tzinfo=UTC) if when is not None and when.tzinfo is None else when


def _must(when: datetime | None) -> datetime:
    found = aware(when)
    return found if found is not None else datetime.now(UTC)


def subscription(row: SubscriptionRow) -> Subscription:
    options = row.options or {}
    return Subscription(
        id=row.id,
        source=row.source,
        language=options.get("language"),
        captions=options.get("captions"),
        limit=options.get("limit"),
        cron=row.cron,
        timezone=row.timezone,
        state=SubscriptionState(row.state),
        paused_until=aware(row.paused_until),
        pause_reason=row.pause_reason,
        next_due_at=aware(row.next_due_at),
        created_at=_must(row.created_at),
        updated_at=_must(row.updated_at),
        discovered=bool(row.discovered),
    )


def run(row: RunRow) -> Run:
    return Run(
        id=row.id,
        subscription_id=row.subscription_id,
        due_at=_must(row.due_at),
        trigger=row.trigger,
        state=RunState(row.state),
        job_id=row.job_id,
        created_at=_must(row.created_at),
        started_at=aware(row.started_at),
        ended_at=aware(row.ended_at),
        found=row.found or 0,
        ingested=row.ingested or 0,
        failed=row.failed or 0,
        skipped=row.skipped or 0,
        episodes=[EpisodeOutcome(**e) for e in row.episodes or []],
        errors=[RunError(**e) for e in row.errors or []],
        note=row.note,
    )


def progress(data: dict[str, Any] | None) -> JobProgress:
    data = dict(data or {})
    return JobProgress(
        stage=data.get("stage"),
        percent=data.get("percent"),
        episode_id=data.get("episode_id"),
        episode_title=data.get("episode_title"),
        index=int(data.get("index") or 0),
        total=int(data.get("total") or 0),
        counts=dict(data.get("counts") or {}),
    )


def job(row: JobRow, subscription_id: int | None = None) -> Job:
    return Job(
        id=row.id,
        kind=JobKind(row.kind),
        request=IngestRequest.of_json(row.request or {}),
        state=JobState(row.state),
        cancel_requested=bool(row.cancel_requested),
        progress=progress(row.progress),
        created_at=_must(row.created_at),
        started_at=aware(row.started_at),
        ended_at=aware(row.ended_at),
        error=row.error,
        run_id=row.run_id,
        attempts=row.attempts or 0,
        owner=row.owner,
        subscription_id=subscription_id,
    )
