"""Each episode's steps in the distributed queue: download → asr → index (or one reprocess step).

A step runs under the episode's lease for its job. The lease is read back before any work (the
episode is read again under it), renewed while the step works, and stretched to the broker's
visibility timeout when the step hands the episode to the next one, so another job cannot take
it while the next step waits in a queue. The tries of the current step are counted in the
catalog, so a step that keeps killing its worker (redelivered each time) fails after
``CASTGRAPH_RETRY_ATTEMPTS`` like any other failure.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from castgraph.api.jobprogress import JobObserver, JobStopped
from castgraph.api.jobrun import options_of
from castgraph.api.queue.steps import (
    ASR,
    INDEX,
    REPROCESS,
    RetryLater,
    StepContext,
    blocked,
    end_episode,
    fetched_json,
    fetched_of,
    lease_seconds,
    media_item,
    owner,
    subscription,
)
from castgraph.core.errors import CastgraphError
from castgraph.core.jobs import EpisodeOutcome, Job, JobState
from castgraph.core.models import Episode, EpisodeState
from castgraph.ingest.failures import classify, is_transient
from castgraph.ingest.pipeline import IngestOptions, IngestPipeline

log = logging.getLogger(__name__)

Body = Callable[[Job, Episode, IngestOptions, int], None]
"""A step's work: its job, the episode (read under the lease), the options and the try number."""


def download(
    ctx: StepContext, job_id: int, episode_id: str, item: dict[str, Any], src: str
) -> None:
    def body(job: Job, episode: Episode, options: IngestOptions, _attempt: int) -> None:
        if IngestPipeline.is_done(episode, options):
            end_episode(ctx, job, EpisodeOutcome(episode.id, episode.title, "skipped"))
            return
        if episode.state is EpisodeState.INDEXED:  # searchable: rebuild beside it, in one step
            _hand_off(ctx, job, episode.id, REPROCESS, [job.id, episode.id, item, src])
            return
        (_text, source), *_ = ctx.sources_of(src, subscription(ctx.catalog, job))
        fetched = ctx.pipeline.fetch(episode, media_item(item), source, options)
        if fetched.captions is not None:  # no speech recognition: straight to indexing
            ctx.pipeline.recognise(episode, fetched, options)
            _hand_off(ctx, job, episode.id, INDEX, [job.id, episode.id])
            return
        message = fetched_json(fetched, ctx.settings.media_dir)
        _hand_off(ctx, job, episode.id, ASR, [job.id, episode.id, message])

    _step(ctx, job_id, episode_id, body)


def asr(ctx: StepContext, job_id: int, episode_id: str, fetched: dict[str, Any]) -> None:
    def body(job: Job, episode: Episode, options: IngestOptions, _attempt: int) -> None:
        if episode.state not in (EpisodeState.INDEXING, EpisodeState.INDEXED):
            ctx.pipeline.recognise(episode, fetched_of(fetched, ctx.settings.media_dir), options)
        _hand_off(ctx, job, episode.id, INDEX, [job.id, episode.id])

    _step(ctx, job_id, episode_id, body)


def index(ctx: StepContext, job_id: int, episode_id: str) -> None:
    def body(job: Job, episode: Episode, _options: IngestOptions, attempt: int) -> None:
        # Indexed already (this step redelivered after it succeeded): never hide it again.
        if episode.state is not EpisodeState.INDEXED or episode.reprocessing is not None:
            result = ctx.pipeline.index_stored(episode)
            if result.state is not EpisodeState.INDEXED:
                raise _StepError(result.error or "indexing failed")
        outcome = EpisodeOutcome(episode.id, episode.title, "indexed", attempts=attempt)
        end_episode(ctx, job, outcome)

    _step(ctx, job_id, episode_id, body)


def reprocess(
    ctx: StepContext, job_id: int, episode_id: str, item: dict[str, Any], src: str
) -> None:
    """Re-process a searchable episode beside its live build: download, speech recognition and
    indexing in one step (the new build is staged by one pipeline), on the asr queue."""

    def body(job: Job, episode: Episode, options: IngestOptions, attempt: int) -> None:
        (_text, source), *_ = ctx.sources_of(src, subscription(ctx.catalog, job))
        result = ctx.pipeline.process(episode, media_item(item), source, options)
        if result.state is not EpisodeState.INDEXED or result.reprocess_error is not None:
            raise _StepError(result.reprocess_error or result.error or "re-processing failed")
        outcome = EpisodeOutcome(episode.id, episode.title, "indexed", attempts=attempt)
        end_episode(ctx, job, outcome)

    _step(ctx, job_id, episode_id, body)


class _StepError(Exception):
    pass


def _step(ctx: StepContext, job_id: int, episode_id: str, body: Body) -> None:
    """Run ``body`` under the episode's lease, with progress, cancel and failure handling."""
    job = ctx.catalog.jobs.get(job_id)
    if job.state is not JobState.RUNNING:
        log.info("step dropped: its job ended", extra={"job": job_id, "episode_id": episode_id})
        return
    if job.cancel_requested or blocked(ctx, job_id):
        _cancel(ctx, job, episode_id)
        return
    if not ctx.catalog.leases.acquire(episode_id, owner(job_id), ctx.clock(), lease_seconds(ctx)):
        wait = min(60.0, lease_seconds(ctx) / 4)
        raise RetryLater(wait, f"episode {episode_id} is leased elsewhere")
    episode = ctx.catalog.get(episode_id)  # read under the lease: another job may have ended it
    attempt = ctx.catalog.job_items.attempt(job_id, episode_id)
    if attempt > ctx.settings.retry_attempts:  # redelivered after killing its worker each time
        message = f"the step was cut short {attempt - 1} times (its worker died)"
        _failed(ctx, job, episode, message, attempt)
        return
    ctx.forward.target = _observer(ctx, job_id, episode)
    try:
        with _renewing(ctx, job_id, episode_id):
            body(job, episode, options_of(ctx.settings, job.request), attempt)
    except JobStopped:
        _cancel(ctx, job, episode_id)
    except RetryLater:
        raise
    except (CastgraphError, _StepError) as exc:
        _failed(ctx, job, episode, str(exc), attempt)
    except Exception as exc:  # an episode must never be left pending by a bug
        log.exception("step crashed", extra={"job": job_id, "episode_id": episode_id})
        _failed(ctx, job, episode, f"unexpected {type(exc).__name__}: {exc}", attempt)
    finally:
        ctx.forward.target = None


def _hand_off(ctx: StepContext, job: Job, episode_id: str, task: str, args: list[Any]) -> None:
    """Send the next step, holding the lease until the broker would give that step to another
    worker (a queue's backlog must not let another job take the episode), tries reset."""
    hold = max(lease_seconds(ctx), ctx.settings.queue_visibility_timeout)
    ctx.catalog.leases.renew(episode_id, owner(job.id), ctx.clock(), hold)
    ctx.catalog.job_items.reset_attempts(job.id, episode_id)
    ctx.send(task, args)


def _failed(ctx: StepContext, job: Job, episode: Episode, message: str, attempt: int) -> None:
    kind = classify(message)
    if is_transient(kind) and attempt < ctx.settings.retry_attempts:
        delay = ctx.settings.retry_backoff * 2 ** (attempt - 1)
        raise RetryLater(delay, message)
    current = ctx.catalog.get(episode.id)
    if current.state is EpisodeState.INDEXED:  # a failed re-process: the live build stays
        if current.reprocess_error is None:
            ctx.catalog.fail_build(episode.id, message)
    elif current.state is not EpisodeState.FAILED:
        ctx.pipeline.fail(current, message)
    outcome = EpisodeOutcome(episode.id, episode.title, "failed", message, kind, attempt)
    end_episode(ctx, job, outcome)


def _cancel(ctx: StepContext, job: Job, episode_id: str) -> None:
    """A cancelled episode: a searchable one keeps its live build (only its re-process stops)."""
    episode = ctx.catalog.get(episode_id)
    if episode.state is EpisodeState.INDEXED:
        if episode.reprocessing is not None:
            ctx.catalog.fail_build(episode_id, "cancelled")
    elif episode.state is not EpisodeState.QUEUED:
        ctx.catalog.set_state(episode_id, EpisodeState.FAILED, "cancelled")
    end_episode(ctx, job, EpisodeOutcome(episode.id, episode.title, "cancelled"))


@contextmanager
def _renewing(ctx: StepContext, job_id: int, episode_id: str) -> Iterator[None]:
    """Renew the lease (and the job's heartbeat) while the step works."""
    stop = threading.Event()
    period = max(0.5, lease_seconds(ctx) / 3)

    def beat() -> None:
        while not stop.wait(period):
            try:
                ctx.catalog.leases.renew(episode_id, owner(job_id), ctx.clock(), lease_seconds(ctx))
                ctx.catalog.job_items.touch(job_id, ctx.clock())
            except CastgraphError:
                log.warning("lease renewal failed", extra={"episode_id": episode_id})

    thread = threading.Thread(target=beat, name="castgraph-lease", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def _observer(ctx: StepContext, job_id: int, episode: Episode) -> JobObserver:
    outcomes = ctx.catalog.job_items.outcomes(job_id)
    observer = JobObserver(ctx.catalog.jobs, job_id, threading.Event())
    observer.total = len(outcomes)
    observer.index = sum(1 for o in outcomes if o.state != "pending")
    observer.counts = dict(ctx.catalog.jobs.get(job_id).progress.counts)
    for state in ("indexed", "failed"):
        observer.counts[state] = sum(1 for o in outcomes if o.state == state)
    observer.episode = episode
    return observer
