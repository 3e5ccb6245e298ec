"""The distributed queue's work, free of Celery: plan a job, then download → asr → index each
episode, each step a separate task that may run on another machine.

A job's planning records its episodes as items and sends one download step per episode. Each
step takes the episode's lease for its job (``job-N``: a redelivered step of the same job takes
it over at once, another job waits for it to be released or to expire), works, and sends the
next step. The step that ends an episode records its outcome; the one that ends the job's last
episode finishes the job (and its run) the way the in-process worker does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from castgraph.api.jobprogress import ForwardingObserver
from castgraph.api.jobrun import (
    Clock,
    SourcesFactory,
    Tally,
    default_sources,
    finish_job,
    options_of,
    utcnow,
)
from castgraph.catalog import SqlCatalog
from castgraph.core.errors import CastgraphError, MediaError
from castgraph.core.jobs import (
    EpisodeOutcome,
    Job,
    JobProgress,
    JobState,
    RunError,
    Subscription,
)
from castgraph.core.models import MediaItem
from castgraph.core.ports import Source
from castgraph.core.settings import Settings
from castgraph.ingest.failures import classify, is_blocked, is_transient
from castgraph.ingest.pipeline import Fetched, IngestPipeline

log = logging.getLogger(__name__)

JOB, DOWNLOAD, ASR, INDEX, TICK, REPROCESS = (
    "castgraph.job",
    "castgraph.download",
    "castgraph.asr",
    "castgraph.index",
    "castgraph.tick",
    "castgraph.reprocess",
)
Send = Callable[[str, list[Any]], None]
"""Sends a task by name with its (JSON) arguments."""


class RetryLater(Exception):  # noqa: N818 - a signal to the task wrapper, not an error
    """Run this step again in ``seconds`` (a lease held elsewhere, or a transient failure)."""

    def __init__(self, seconds: float, reason: str) -> None:
        super().__init__(reason)
        self.seconds = seconds


@dataclass
class StepContext:
    """What a queue worker process holds: settings, its catalog, a pipeline built on first use."""

    settings: Settings
    catalog: SqlCatalog
    make_pipeline: Callable[[ForwardingObserver], IngestPipeline]
    send: Send
    worker: str
    clock: Clock = utcnow
    sources: SourcesFactory | None = None
    """The sources of a request (default: the configured yt-dlp/RSS/local ones)."""
    forward: ForwardingObserver = field(default_factory=ForwardingObserver)
    _pipeline: IngestPipeline | None = None

    def sources_of(self, text: str, sub: Subscription | None) -> list[tuple[str, Source]]:
        if self.sources is not None:
            return self.sources(text, sub)
        return default_sources(self.settings, text, sub)

    @property
    def pipeline(self) -> IngestPipeline:
        if self._pipeline is None:
            self._pipeline = self.make_pipeline(self.forward)
        return self._pipeline


def owner(job_id: int) -> str:
    return f"job-{job_id}"


# --- planning --------------------------------------------------------------------------------


def run_job(ctx: StepContext, job_id: int) -> int:
    """Resolve the job's source and send a download step per episode; returns how many."""
    job = ctx.catalog.job_items.claim(job_id, ctx.worker, ctx.clock())
    if job is None:
        log.info("job not queued any more", extra={"job": job_id})
        return 0
    try:
        return _plan(ctx, job)
    except RetryLater:
        raise
    except Exception as exc:  # a job must never stay running with nothing to run it
        log.exception("job planning crashed", extra={"job": job_id})
        tally = Tally(errors=[_error(f"unexpected {exc!r}", source=job.request.source)])
        _finish(ctx, job, tally)
        return 0


def _plan(ctx: StepContext, job: Job) -> int:
    job_id = job.id
    sub = subscription(ctx.catalog, job)
    options = options_of(ctx.settings, job.request)
    tally = Tally()
    try:
        sources = ctx.sources_of(job.request.source, sub)
    except CastgraphError as exc:
        tally.errors.append(_error(str(exc), source=job.request.source))
        _finish(ctx, job, tally)
        return 0
    report, todo = ctx.pipeline.plan(sources, options)
    errors = [_error(m, source=t) for t, m in report.source_errors]
    if any(is_transient(e.kind) for e in errors) and job.attempts < ctx.settings.retry_attempts:
        # A network blip or a 5xx while listing: plan again later, as the in-process worker does.
        ctx.catalog.job_items.requeue(job_id, errors[0].message)
        delay = ctx.settings.retry_backoff * 2 ** (job.attempts - 1)
        raise RetryLater(delay, errors[0].message)
    tally.errors += errors
    tally.blocked = next((e for e in tally.errors if is_blocked(e.kind)), None)
    tally.resolved = not tally.errors
    tally.found, tally.skipped = report.resolved, report.skipped
    counts = {"found": report.resolved, "todo": len(todo), "skipped": report.skipped}
    counts |= {"indexed": 0, "failed": 0}
    ctx.catalog.jobs.set_progress(job_id, _planned(len(todo), counts))
    pending = set(ctx.catalog.job_items.add(job_id, [(e.id, e.title) for e, _, _ in todo]))
    if not pending:
        _finish(ctx, job, tally)
        return 0
    texts = {id(source): text for text, source in sources}
    for episode, item, source in todo:
        if episode.id in pending:
            ctx.send(DOWNLOAD, [job_id, episode.id, item_json(item), texts[id(source)]])
    log.info("job planned", extra={"job": job_id, "episodes": len(pending)})
    return len(pending)


def tick(ctx: StepContext) -> int:
    """The beat's tick: requeue jobs orphaned while planning, claim due subscriptions, and send
    every queued job (a job is claimed once, so sending one twice is harmless)."""
    now = ctx.clock()
    ctx.catalog.job_items.requeue_orphans(now, ctx.settings.job_timeout)
    for job_id in ctx.catalog.job_items.ended_but_running():  # its finisher died
        finish_once(ctx, job_id)
    ctx.catalog.subscriptions.claim_due(now)
    queued = ctx.catalog.jobs.all(limit=500, state=JobState.QUEUED)
    for job in reversed(queued):  # oldest first
        ctx.send(JOB, [job.id])
    return len(queued)


# --- ending episodes and jobs ----------------------------------------------------------------


def end_episode(ctx: StepContext, job: Job, outcome: EpisodeOutcome) -> None:
    """Record an episode's outcome, release its lease, and finish the job after its last one."""
    items = ctx.catalog.job_items
    last = items.finish(job.id, outcome, ctx.clock())
    ctx.catalog.leases.release(outcome.episode_id, owner(job.id))
    log.info("episode ended", extra={"job": job.id, "episode_id": outcome.episode_id})
    # ``last`` is False for a redelivered step whose outcome was recorded before: if the worker
    # that recorded it died before finishing the job, nothing is pending and this one finishes it.
    if last or items.pending(job.id) == 0:
        finish_once(ctx, job.id)


def finish_once(ctx: StepContext, job_id: int) -> None:
    """Finish a job whose episodes all ended, unless another process is doing it right now."""
    if not ctx.catalog.job_items.claim_end(job_id, ctx.clock()):
        return
    job = ctx.catalog.jobs.get(job_id)
    _finish(ctx, job, _tally(ctx, job))


def _tally(ctx: StepContext, job: Job) -> Tally:
    counts = job.progress.counts
    tally = Tally(found=counts.get("found", 0), skipped=counts.get("skipped", 0), resolved=True)
    for outcome in ctx.catalog.job_items.outcomes(job.id):
        if outcome.state == "skipped":
            tally.skipped += 1
            continue
        tally.outcomes.append(outcome)
        if outcome.state == "failed":
            error = _error(outcome.error or "failed", episode_id=outcome.episode_id)
            tally.errors.append(error)
            if is_blocked(error.kind):
                tally.blocked = error
    return tally


def _finish(ctx: StepContext, job: Job, tally: Tally) -> None:
    state = JobState.SUCCEEDED if not tally.errors and tally.blocked is None else JobState.FAILED
    if job.cancel_requested:
        state = JobState.CANCELLED
    sub = subscription(ctx.catalog, job)
    finish_job(ctx.settings, ctx.catalog, job, sub, tally, (state, tally.summary()), ctx.clock())


# --- helpers ---------------------------------------------------------------------------------


def blocked(ctx: StepContext, job_id: int) -> bool:
    """Whether an earlier episode of the job hit a bot check or a 429: the rest waits."""
    return any(
        o.state == "failed" and is_blocked(o.kind or "")
        for o in ctx.catalog.job_items.outcomes(job_id)
    )


def lease_seconds(ctx: StepContext) -> float:
    return ctx.settings.lease_seconds


def _planned(total: int, counts: dict[str, int]) -> JobProgress:
    """A planned job's progress: nothing done yet."""
    percent = 0.0 if total else None
    return JobProgress(stage="queued", percent=percent, total=total, counts=counts)


def subscription(catalog: SqlCatalog, job: Job) -> Subscription | None:
    if job.subscription_id is None:
        return None
    try:
        return catalog.subscriptions.get(job.subscription_id)
    except CastgraphError:
        return None


def _error(message: str, *, source: str | None = None, episode_id: str | None = None) -> RunError:
    return RunError(classify(message), message, source, episode_id)


# --- messages --------------------------------------------------------------------------------


def item_json(item: MediaItem) -> dict[str, Any]:
    data = asdict(item)
    data["published"] = item.published.isoformat() if item.published else None
    return data


def media_item(data: dict[str, Any]) -> MediaItem:
    published = data.get("published")
    return MediaItem(**{**data, "published": date.fromisoformat(published) if published else None})


def fetched_json(fetched: Fetched, media_dir: Path) -> dict[str, Any]:
    """The download step's result for the asr step: the audio by its path in the media
    directory (a volume every worker mounts), never by an absolute path of this machine."""
    wav = str(fetched.wav.relative_to(media_dir)) if fetched.wav is not None else None
    return {"item": item_json(fetched.item), "wav": wav, "names": list(fetched.names)}


def fetched_of(data: dict[str, Any], media_dir: Path) -> Fetched:
    """The download step's result; an audio path outside the media directory is refused (a
    message from the broker is not trusted to name any file)."""
    wav = data.get("wav")
    path = (media_dir / wav).resolve() if wav else None
    if path is not None and not path.is_relative_to(media_dir.resolve()):
        raise MediaError(f"refused an audio path outside the media directory: {wav!r}")
    return Fetched(media_item(data["item"]), path, list(data["names"]))
