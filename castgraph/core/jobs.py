"""Subscriptions, their runs, and jobs: the scheduler's state, kept in the catalog (design §6).

Times are timezone-aware UTC datetimes; a subscription's cron is read in its own time zone.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class SubscriptionState(enum.StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"


class RunState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PARTIAL = "partial"
    """Some items were ingested and some failed (or the run stopped early, e.g. a bot check)."""
    CANCELLED = "cancelled"


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class JobKind(enum.StrEnum):
    INGEST = "ingest"
    SUBSCRIPTION_RUN = "subscription-run"


@dataclass(frozen=True, slots=True)
class IngestRequest:
    """What to ingest: one source and the options a subscription or a request gives."""

    source: str
    language: str | None = None
    captions: str | None = None
    limit: int | None = None
    force: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "language": self.language,
            "captions": self.captions,
            "limit": self.limit,
            "force": self.force,
        }

    @classmethod
    def of_json(cls, data: dict[str, Any]) -> IngestRequest:
        return cls(
            source=str(data.get("source") or data.get("url") or ""),
            language=data.get("language"),
            captions=data.get("captions"),
            limit=data.get("limit"),
            force=bool(data.get("force", False)),
        )


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    source: str
    language: str | None
    captions: str | None
    limit: int | None
    cron: str
    timezone: str
    state: SubscriptionState
    paused_until: datetime | None
    pause_reason: str | None
    next_due_at: datetime | None
    created_at: datetime
    updated_at: datetime
    discovered: bool = False
    """True once a run listed the whole source: later runs may use a cheap feed (YouTube RSS)."""

    def request(self) -> IngestRequest:
        return IngestRequest(self.source, self.language, self.captions, self.limit)

    def paused_at(self, now: datetime) -> bool:
        """Paused by hand, or automatically until a time still ahead."""
        auto = self.paused_until is not None and self.paused_until > now
        return self.state is SubscriptionState.PAUSED or auto


@dataclass(frozen=True, slots=True)
class RunError:
    """One failure of a run: what failed (an episode or the source), its kind and message."""

    kind: str
    message: str
    source: str | None = None
    episode_id: str | None = None
    title: str | None = None


@dataclass(frozen=True, slots=True)
class EpisodeOutcome:
    """What a run did with one item of its source."""

    episode_id: str
    title: str
    state: str
    """``indexed``, ``failed``, ``skipped`` or ``cancelled``."""
    error: str | None = None
    kind: str | None = None
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class Run:
    id: int
    subscription_id: int
    due_at: datetime
    trigger: str
    """``schedule``, ``manual`` (run now) or ``retry``."""
    state: RunState
    job_id: int | None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    found: int = 0
    ingested: int = 0
    failed: int = 0
    skipped: int = 0
    episodes: list[EpisodeOutcome] = field(default_factory=list)
    errors: list[RunError] = field(default_factory=list)
    note: str | None = None


@dataclass(frozen=True, slots=True)
class JobProgress:
    """Where a job is: the stage of its current episode, a percent, counts of items."""

    stage: str | None = None
    percent: float | None = None
    episode_id: str | None = None
    episode_title: str | None = None
    index: int = 0
    total: int = 0
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    kind: JobKind
    request: IngestRequest
    state: JobState
    cancel_requested: bool
    progress: JobProgress
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    error: str | None
    run_id: int | None
    attempts: int
    owner: str | None
    subscription_id: int | None = None
