"""The pipeline observer of a job: stores its progress and stops it at a safe point.

A cancel (or the server stopping) is noticed when progress is stored: at each episode's start
and each stage boundary, and at most once a second during a stage. It raises ``JobStopped``, a
``BaseException`` so that the pipeline's per-episode error handling does not record it as the
episode's failure: the episode is left where it stopped, resumable like after a kill.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from castgraph.catalog import JobStore
from castgraph.core.jobs import JobProgress
from castgraph.core.models import Episode, EpisodeState

# Where each stage starts within one episode's share of the job (fractions of that share).
_STAGE_START = {
    EpisodeState.QUEUED: 0.0,
    EpisodeState.DOWNLOADING: 0.02,
    EpisodeState.TRANSCRIBING: 0.2,
    EpisodeState.DIARIZING: 0.7,
    EpisodeState.INDEXING: 0.8,
    EpisodeState.INDEXED: 1.0,
    EpisodeState.FAILED: 1.0,
}
_STAGE_SPAN = {EpisodeState.DOWNLOADING: 0.18, EpisodeState.TRANSCRIBING: 0.5}


class JobStopped(BaseException):
    """Stop the job here: ``requeue`` when the server stops, not when a person cancelled."""

    def __init__(self, requeue: bool) -> None:
        super().__init__("server stopping" if requeue else "cancelled")
        self.requeue = requeue


class JobObserver:
    """An ``Observer`` writing one job's progress into the catalog."""

    def __init__(
        self,
        jobs: JobStore,
        job_id: int,
        stopping: threading.Event,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._jobs, self._job_id, self._stopping, self._clock = jobs, job_id, stopping, clock
        self._stored_at = float("-inf")
        self.index = self.total = 0
        self.stage_name: str | None = "resolving"
        self.fraction = 0.0
        self.episode: Episode | None = None
        self.counts: dict[str, int] = {}

    def resolved(self, found: int, todo: int, skipped: int) -> None:
        self.total = todo
        self.counts = {"found": found, "todo": todo, "skipped": skipped, "indexed": 0, "failed": 0}
        self.stage_name = "queued"
        self.store(force=True)

    def episode_started(self, episode: Episode, index: int, total: int) -> None:
        self.episode, self.index, self.total = episode, index, max(total, self.total)
        self.stage_name, self.fraction = EpisodeState.QUEUED.value, 0.0
        self.store(force=True)

    def stage(self, episode: Episode, state: EpisodeState) -> None:
        self.stage_name, self.fraction = state.value, _STAGE_START.get(state, 0.0)
        self.store(force=True)

    def progress(self, episode: Episode, done: float, total: float) -> None:
        state = EpisodeState(self.stage_name) if self.stage_name in _STAGE_START else None
        if state is not None and total > 0:
            share = min(max(done / total, 0.0), 1.0) * _STAGE_SPAN.get(state, 0.0)
            self.fraction = _STAGE_START[state] + share
        self.store()

    def episode_finished(self, episode: Episode) -> None:
        key = "indexed" if episode.state is EpisodeState.INDEXED else "failed"
        self.counts[key] = self.counts.get(key, 0) + 1
        self.fraction = 1.0
        self.store(force=True)

    def check(self) -> None:
        """Raise ``JobStopped`` now if the job should stop (between episodes, while waiting)."""
        self.store(force=True)

    def store(self, *, force: bool = False) -> None:
        now = self._clock()
        if not force and now - self._stored_at < 1.0:
            return
        self._stored_at = now
        cancelled = self._jobs.set_progress(self._job_id, self.snapshot())
        if cancelled:
            raise JobStopped(requeue=False)
        if self._stopping.is_set():
            raise JobStopped(requeue=True)

    def snapshot(self) -> JobProgress:
        percent = 100.0 * (self.index + self.fraction) / self.total if self.total else None
        return JobProgress(
            stage=self.stage_name,
            percent=round(min(percent, 100.0), 1) if percent is not None else None,
            episode_id=self.episode.id if self.episode else None,
            episode_title=self.episode.title if self.episode else None,
            index=self.index,
            total=self.total,
            counts=dict(self.counts),
        )


class ForwardingObserver:
    """The pipeline's one observer, pointing at the current job's (the pipeline is kept across
    jobs so that models load once)."""

    def __init__(self) -> None:
        self.target: JobObserver | None = None

    def episode_started(self, episode: Episode, index: int, total: int) -> None:
        if self.target is not None:
            self.target.episode_started(episode, index, total)

    def stage(self, episode: Episode, state: EpisodeState) -> None:
        if self.target is not None:
            self.target.stage(episode, state)

    def progress(self, episode: Episode, done: float, total: float) -> None:
        if self.target is not None:
            self.target.progress(episode, done, total)

    def episode_finished(self, episode: Episode) -> None:
        if self.target is not None:
            self.target.episode_finished(episode)
