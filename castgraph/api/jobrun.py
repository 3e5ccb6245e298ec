"""Executing one job: resolve its source, then ingest the new items one episode at a time.

Transient failures (network, HTTP 5xx) are retried with exponential backoff; a bot check or an
HTTP 429 stops the run and pauses its subscription for ``CASTGRAPH_BOT_PAUSE`` seconds; other
failures are recorded with their kind and the run goes on with the next item.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

from castgraph.api.jobprogress import ForwardingObserver, JobObserver, JobStopped
from castgraph.api.services import Services
from castgraph.catalog import SqlCatalog
from castgraph.core.errors import CastgraphError
from castgraph.core.jobs import (
    EpisodeOutcome,
    IngestRequest,
    Job,
    JobState,
    RunError,
    RunState,
    Subscription,
)
from castgraph.core.models import Episode, EpisodeState
from castgraph.core.ports import Source
from castgraph.core.settings import Settings, captions_mode
from castgraph.ingest.failures import classify, is_blocked, is_transient
from castgraph.ingest.pipeline import IngestOptions, IngestPipeline, Observer, WorkItem

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
SourcesFactory = Callable[[str, Subscription | None], list[tuple[str, Source]]]
"""The validated sources of a job's request (a subscription may pick a cheaper listing)."""


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Tally:
    """What a job did: per-item outcomes, errors by kind, and whether the site pushed back."""

    found: int = 0
    skipped: int = 0
    outcomes: list[EpisodeOutcome] = field(default_factory=list)
    errors: list[RunError] = field(default_factory=list)
    blocked: RunError | None = None
    resolved: bool = False

    def state(self) -> RunState:
        indexed = sum(1 for o in self.outcomes if o.state == "indexed")
        if not self.errors and self.blocked is None:
            return RunState.SUCCEEDED
        return RunState.PARTIAL if indexed else RunState.FAILED

    def summary(self) -> str | None:
        if not self.errors:
            return None
        first = self.errors[0]
        more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        return f"{first.kind}: {first.message}{more}"


class JobRunner:
    """Runs jobs through one pipeline that lives as long as the worker (models load once)."""

    def __init__(
        self,
        settings: Settings,
        services: Services,
        stopping: threading.Event,
        clock: Clock = utcnow,
        sources: SourcesFactory | None = None,
        pipeline: Callable[[Observer], IngestPipeline] | None = None,
    ) -> None:
        self._settings, self._services, self.stopping = settings, services, stopping
        self._clock = clock
        self._sources = sources or partial(default_sources, settings)
        self._make_pipeline = pipeline or self._default_pipeline
        self._forward = ForwardingObserver()
        self._pipeline: IngestPipeline | None = None

    @property
    def pipeline(self) -> IngestPipeline:
        """Built on first use (models load with the first job, not at server start)."""
        if self._pipeline is None:
            self._pipeline = self._make_pipeline(self._forward)
        return self._pipeline

    def _default_pipeline(self, observer: Observer) -> IngestPipeline:
        from castgraph.api import wiring

        return wiring.pipeline(self._settings, self._services, observer)

    def run(self, job: Job) -> None:
        """Execute ``job`` to its end (or until cancelled), recording everything it did."""
        catalog = self._services.catalog
        observer = JobObserver(catalog.jobs, job.id, self.stopping)
        self._forward.target = observer
        sub = self._subscription(job)
        tally = Tally()
        try:
            self._execute(job, sub, observer, tally)
        except JobStopped as stop:
            if stop.requeue:
                catalog.jobs.release(job.id)
                log.info("job released: the server is stopping", extra={"job": job.id})
                return
            self._finish(job, sub, tally, JobState.CANCELLED, "cancelled")
            return
        except Exception as exc:  # a job must never kill the worker
            log.exception("job crashed", extra={"job": job.id})
            tally.errors.append(RunError(kind="other", message=f"unexpected {exc!r}"))
        finally:
            self._forward.target = None
            if self._services.visible is not None:
                self._services.visible.invalidate()
        state = JobState.SUCCEEDED if tally.state() is RunState.SUCCEEDED else JobState.FAILED
        self._finish(job, sub, tally, state, tally.summary())

    def _subscription(self, job: Job) -> Subscription | None:
        if job.subscription_id is None:
            return None
        try:
            return self._services.catalog.subscriptions.get(job.subscription_id)
        except CastgraphError:
            return None

    def _execute(
        self, job: Job, sub: Subscription | None, observer: JobObserver, tally: Tally
    ) -> None:
        request = job.request
        options = options_of(self._settings, request)
        try:
            sources = self._sources(request.source, sub)
        except CastgraphError as exc:
            tally.errors.append(_error(str(exc), source=request.source))
            return
        todo = self._plan(sources, options, observer, tally)
        for index, (episode, item, source) in enumerate(todo):
            if tally.blocked is not None:
                break
            observer.episode_started(episode, index, len(todo))
            outcome = self._process((episode, item, source), options, observer, tally)
            tally.outcomes.append(outcome)
            observer.episode_finished(self._services.catalog.get(episode.id))

    def _plan(
        self,
        sources: list[tuple[str, Source]],
        options: IngestOptions,
        observer: JobObserver,
        tally: Tally,
    ) -> list[WorkItem]:
        """Resolve the source, retrying transient failures; a bot check stops here."""
        attempts = self._settings.retry_attempts
        for attempt in range(1, attempts + 1):
            report, todo = self.pipeline.plan(sources, options)
            errors = [_error(message, source=text) for text, message in report.source_errors]
            retry = [e for e in errors if is_transient(e.kind)]
            if retry and attempt < attempts:
                log.warning("source failed, retrying", extra={"error": retry[0].message})
                self._wait(observer, attempt)
                continue
            tally.errors += errors
            tally.blocked = next((e for e in errors if is_blocked(e.kind)), None)
            tally.resolved = not errors
            tally.found, tally.skipped = report.resolved, report.skipped
            observer.resolved(report.resolved, len(todo), report.skipped)
            return todo
        return []

    def _process(
        self, work: WorkItem, options: IngestOptions, observer: JobObserver, tally: Tally
    ) -> EpisodeOutcome:
        """One episode, retried while its failure is transient."""
        episode, item, source = work
        attempts = self._settings.retry_attempts
        for attempt in range(1, attempts + 1):
            try:
                with self._services.write_lock:
                    result = self.pipeline.process(episode, item, source, options)
            except JobStopped as stop:
                if not stop.requeue:  # cancelled: say so, the next run retries the episode
                    self._cancelled(episode)
                raise
            error_text = result.error or result.reprocess_error
            if result.state is EpisodeState.INDEXED and result.reprocess_error is None:
                return EpisodeOutcome(episode.id, result.title, "indexed", attempts=attempt)
            kind = classify(error_text)
            if is_transient(kind) and attempt < attempts:
                self._wait(observer, attempt)
                episode = self._services.catalog.get(episode.id)
                continue
            error = _error(error_text or "failed", episode_id=episode.id, title=result.title)
            tally.errors.append(error)
            if is_blocked(kind):
                tally.blocked = error
            return EpisodeOutcome(
                episode.id, result.title, "failed", error_text, kind, attempts=attempt
            )
        raise AssertionError("unreachable: the last attempt returns")

    def _cancelled(self, episode: Episode) -> None:
        """A searchable episode keeps its live build (only the re-process is cancelled)."""
        catalog = self._services.catalog
        if episode.state is EpisodeState.INDEXED:
            catalog.fail_build(episode.id, "cancelled")
        else:
            catalog.set_state(episode.id, EpisodeState.FAILED, "cancelled")

    def _wait(self, observer: JobObserver, attempt: int) -> None:
        """Back off before another try, waking early to stop (cancel or shutdown)."""
        delay = self._settings.retry_backoff * 2 ** (attempt - 1)
        observer.stage_name = f"waiting {delay:g}s to retry"
        observer.check()
        self.stopping.wait(delay)
        observer.check()

    def _finish(
        self, job: Job, sub: Subscription | None, tally: Tally, state: JobState, error: str | None
    ) -> None:
        catalog, now = self._services.catalog, self._clock()
        finish_job(self._settings, catalog, job, sub, tally, (state, error), now)


def options_of(settings: Settings, request: IngestRequest) -> IngestOptions:
    """The ingest options of a job's request, defaults from the settings."""
    return IngestOptions(
        limit=request.limit,
        force=request.force,
        language=request.language or settings.language,
        captions=captions_mode(request.captions or settings.captions),
        num_speakers=settings.num_speakers,
        max_items=settings.max_items_per_run,
    )


def default_sources(
    settings: Settings, text: str, sub: Subscription | None
) -> list[tuple[str, Source]]:
    """The sources of a job's request: a subscription's later runs read the cheap feed first."""
    from castgraph.api import wiring
    from castgraph.ingest.sources.youtube_feed import feed_first

    pairs = wiring.sources(settings, [text])
    if sub is None or not sub.discovered:  # the first run lists the whole channel
        return pairs
    allow, timeout = settings.allow_private_urls, settings.download_timeout
    return [(t, feed_first(s, t, allow_private=allow, timeout=timeout)) for t, s in pairs]


def finish_job(
    settings: Settings,
    catalog: SqlCatalog,
    job: Job,
    sub: Subscription | None,
    tally: Tally,
    end: tuple[JobState, str | None],
    now: datetime,
) -> None:
    """Record a job's end: its run's outcomes, and a pause of its subscription after a bot check
    or a 429 (the in-process worker and the distributed queue end jobs the same way)."""
    state, error = end
    note = None
    if sub is not None and tally.blocked is not None:
        until = now + timedelta(seconds=settings.bot_pause)
        reason = f"{tally.blocked.kind}: {tally.blocked.message}"
        catalog.subscriptions.pause(sub.id, now, until=until, reason=reason)
        note = f"paused until {until.isoformat(timespec='minutes')} after a {reason}"
        log.warning("subscription paused", extra={"subscription": sub.id, "until": until})
    if sub is not None and tally.resolved:
        catalog.subscriptions.mark_discovered(sub.id)
    if job.run_id is not None:
        run_state = RunState.CANCELLED if state is JobState.CANCELLED else tally.state()
        catalog.subscriptions.finish_run(
            job.run_id,
            run_state,
            now,
            outcomes=tally.outcomes,
            errors=tally.errors,
            found=tally.found,
            skipped=tally.skipped,
            note=note,
            job=(job.id, state, error),
        )
    else:
        catalog.jobs.finish(job.id, state, now, error)
    log.info("job finished", extra={"job": job.id, "state": state.value})


def _error(
    message: str,
    *,
    source: str | None = None,
    episode_id: str | None = None,
    title: str | None = None,
) -> RunError:
    return RunError(classify(message), message, source, episode_id, title)
