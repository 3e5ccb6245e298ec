"""The JSON shapes of subscriptions, runs and jobs (``/api/subscriptions``, ``/api/runs``,
``/api/ingest``, ``/api/jobs``)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from castgraph.core.jobs import Job, Run, Subscription
from castgraph.core.settings import CaptionsMode


class IngestIn(BaseModel):
    """``POST /api/ingest``: what to ingest (the options of ``castgraph ingest``)."""

    url: str = Field(min_length=1, max_length=2000, description="A video, channel, playlist, feed.")
    language: str | None = Field(default=None, max_length=16, description="Force it, e.g. es.")
    captions: CaptionsMode | None = Field(default=None, description="never | prefer | only.")
    limit: int | None = Field(default=None, ge=1, le=10000, description="At most N new episodes.")
    force: bool = Field(default=False, description="Reprocess episodes already indexed.")


class SubscriptionIn(BaseModel):
    """``POST /api/subscriptions``: a source ingested on a schedule (nightly by default)."""

    source: str = Field(min_length=1, max_length=2000)
    cron: str | None = Field(
        default=None, max_length=128, description="e.g. '0 3 * * *' (CASTGRAPH_DEFAULT_CRON)."
    )
    timezone: str | None = Field(default=None, max_length=64, description="CASTGRAPH_TIMEZONE.")
    language: str | None = Field(default=None, max_length=16)
    captions: CaptionsMode | None = None
    limit: int | None = Field(default=None, ge=1, le=10000, description="New episodes per run.")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class RequestOut(_Out):
    source: str
    language: str | None
    captions: str | None
    limit: int | None
    force: bool


class ProgressOut(_Out):
    stage: str | None = Field(description="resolving, queued, downloading, transcribing…")
    percent: float | None = Field(description="Of the whole job, 0–100 (null until resolved).")
    episode_id: str | None
    episode_title: str | None
    index: int = Field(description="0-based index of the current episode among those to do.")
    total: int = Field(description="Episodes this job ingests (new or unfinished ones).")
    counts: dict[str, int] = Field(description="found, todo, skipped, indexed, failed.")


class JobOut(_Out):
    id: int
    kind: str = Field(description="ingest | subscription-run")
    state: str = Field(description="queued | running | succeeded | failed | cancelled")
    request: RequestOut
    progress: ProgressOut
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    error: str | None
    run_id: int | None
    subscription_id: int | None
    attempts: int

    @classmethod
    def of(cls, job: Job) -> JobOut:
        return cls.model_validate(job)


class JobAccepted(BaseModel):
    """``202``: the job is queued; follow it at ``GET /api/jobs/{id}``."""

    id: int
    state: str
    url: str


class OutcomeOut(_Out):
    episode_id: str
    title: str
    state: str = Field(description="indexed | failed")
    error: str | None
    kind: str | None
    attempts: int


class RunErrorOut(_Out):
    kind: str = Field(description="bot-check, rate-limit, network, server, not-found, …")
    message: str
    source: str | None
    episode_id: str | None
    title: str | None


class RunOut(_Out):
    id: int
    subscription_id: int
    due_at: datetime
    trigger: str = Field(description="schedule | manual | retry")
    state: str = Field(description="queued | running | succeeded | partial | failed | cancelled")
    job_id: int | None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    found: int
    ingested: int
    failed: int
    skipped: int
    episodes: list[OutcomeOut]
    errors: list[RunErrorOut]
    errors_by_kind: dict[str, int] = Field(default_factory=dict)
    note: str | None

    @classmethod
    def of(cls, run: Run) -> RunOut:
        kinds = Counter(e.kind for e in run.errors)
        return cls.model_validate(run).model_copy(update={"errors_by_kind": dict(kinds)})


class SubscriptionOut(_Out):
    id: int
    source: str
    cron: str
    timezone: str
    language: str | None
    captions: str | None
    limit: int | None
    state: str = Field(description="active | paused (by hand)")
    paused_until: datetime | None = Field(description="Paused automatically until then.")
    pause_reason: str | None
    next_due_at: datetime | None
    created_at: datetime
    updated_at: datetime
    last_run: RunOut | None = None

    @classmethod
    def of(cls, sub: Subscription, last_run: Run | None = None) -> SubscriptionOut:
        out = cls.model_validate(sub)
        return out.model_copy(update={"last_run": RunOut.of(last_run) if last_run else None})
