"""The job worker over the real SQLite catalog and pipeline, with fake stages and sources."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from castgraph.api.jobrun import JobRunner
from castgraph.api.services import Services
from castgraph.api.worker import Worker, owner_is_dead
from castgraph.catalog import SqlCatalog
from castgraph.core.errors import SourceError
from castgraph.core.jobs import IngestRequest, JobState, RunState, Subscription
from castgraph.core.models import EpisodeState, MediaItem
from castgraph.core.ports import ProgressCallback, Source
from castgraph.core.settings import Settings
from castgraph.ingest.pipeline import IngestPipeline, Observer, Stages
from tests.unit.test_pipeline import FakeDiarizer, FakeSource, FakeTranscriber, _assign, _extract

FEED = "https://example.org/feed.xml"
T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


class FlakySource(FakeSource):
    """Fails to fetch an item with the messages in ``failures[source_id]``, one per try."""

    def __init__(self, items: list[MediaItem], failures: dict[str, list[str]]) -> None:
        super().__init__(items)
        self.failures = failures
        self.on_fetch: Callable[[MediaItem], None] = lambda _item: None

    def fetch(
        self, item: MediaItem, dest_dir: Path, progress: ProgressCallback | None = None
    ) -> Path:
        self.on_fetch(item)
        pending = self.failures.get(item.source_id)
        if pending:
            raise SourceError(pending.pop(0))
        return super().fetch(item, dest_dir, progress)


def _item(n: int) -> MediaItem:
    return MediaItem(source_id=f"feed:{n}", url=f"https://example.org/{n}.mp3", title=f"Ep {n}")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class Rig:
    def __init__(self, tmp_path: Path, source: Source) -> None:
        self.catalog = SqlCatalog(f"sqlite:///{tmp_path / 'catalog.db'}").open()
        self.settings = Settings(
            data_dir=tmp_path, retry_backoff=0, retry_attempts=3, bot_pause=3600
        )
        self.services = Services(catalog=self.catalog, search=None, indexer=None)  # type: ignore[arg-type]
        self.clock = Clock()
        self.source = source
        stages = Stages(
            transcriber=FakeTranscriber(),
            diarizer=FakeDiarizer(),
            extract_wav=_extract,
            is_silent=lambda _p: False,
            assign_speakers=_assign,
        )

        def pipeline(observer: Observer) -> IngestPipeline:
            return IngestPipeline(self.catalog, stages, tmp_path / "media", observer)

        def sources(text: str, _sub: Subscription | None) -> list[tuple[str, Source]]:
            return [(text, self.source)]

        stop = threading.Event()
        runner = JobRunner(self.settings, self.services, stop, self.clock, sources, pipeline)
        self.worker = Worker(self.settings, self.services, clock=self.clock, runner=runner)


@pytest.fixture
def items() -> list[MediaItem]:
    return [_item(1), _item(2)]


def test_an_ingest_job_reports_progress_and_counts(tmp_path: Path, items: Any) -> None:
    rig = Rig(tmp_path, FakeSource(items))
    job = rig.catalog.jobs.submit(IngestRequest(FEED), T0)
    assert rig.worker.drain() == 1
    done = rig.catalog.jobs.get(job.id)
    assert done.state is JobState.SUCCEEDED and done.error is None
    assert done.progress.percent == 100.0 and done.progress.counts["indexed"] == 2
    assert {e.state for e in rig.catalog.list_episodes()} == {EpisodeState.INDEXED}


def test_each_run_ingests_only_new_items_with_nobody_calling_ingest(
    tmp_path: Path, items: list[MediaItem]
) -> None:
    source = FakeSource(items)
    rig = Rig(tmp_path, source)
    sub, _ = rig.catalog.subscriptions.add(IngestRequest(FEED), "0 3 * * *", "UTC", T0)
    rig.clock.now = T0 + timedelta(days=1)
    assert rig.worker.tick() == 1 and rig.worker.tick() == 0
    rig.worker.drain()
    items.append(_item(3))
    rig.clock.now = T0 + timedelta(days=2)
    assert rig.worker.tick() == 1
    rig.worker.drain()
    second, first = rig.catalog.subscriptions.runs(sub.id)
    assert (first.state, first.found, first.ingested) == (RunState.SUCCEEDED, 2, 2)
    assert (second.state, second.found, second.ingested, second.skipped) == (
        RunState.SUCCEEDED,
        3,
        1,
        2,
    )
    assert [o.title for o in second.episodes] == ["Ep 3"]
    assert source.fetched == ["feed:1", "feed:2", "feed:3"]
    assert rig.catalog.subscriptions.get(sub.id).discovered


def test_transient_failures_are_retried_and_permanent_ones_recorded(
    tmp_path: Path, items: list[MediaItem]
) -> None:
    source = FlakySource(
        items,
        {
            "feed:1": ["network error: could not reach the server", "the server failed (HTTP 5xx)"],
            "feed:2": ["not found (HTTP 404): check the link"],
        },
    )
    rig = Rig(tmp_path, source)
    sub, _ = rig.catalog.subscriptions.add(IngestRequest(FEED), "0 3 * * *", "UTC", T0)
    rig.catalog.subscriptions.run_now(sub.id, T0)
    rig.worker.drain()
    (run,) = rig.catalog.subscriptions.runs(sub.id)
    assert run.state is RunState.PARTIAL and (run.ingested, run.failed) == (1, 1)
    by_title = {o.title: o for o in run.episodes}
    assert by_title["Ep 1"].state == "indexed" and by_title["Ep 1"].attempts == 3
    assert by_title["Ep 2"].kind == "not-found" and by_title["Ep 2"].attempts == 1
    assert [e.kind for e in run.errors] == ["not-found"]
    job = rig.catalog.jobs.get(run.job_id or 0)
    assert job.state is JobState.FAILED and "not-found" in (job.error or "")


def test_a_bot_check_pauses_the_subscription_and_says_so(
    tmp_path: Path, items: list[MediaItem]
) -> None:
    bot = "Sign in to confirm you're not a bot. This helps protect our community"
    rig = Rig(tmp_path, FlakySource(items, {"feed:1": [bot]}))
    sub, _ = rig.catalog.subscriptions.add(IngestRequest(FEED), "0 3 * * *", "UTC", T0)
    rig.catalog.subscriptions.run_now(sub.id, T0)
    rig.worker.drain()
    (run,) = rig.catalog.subscriptions.runs(sub.id)
    assert run.state is RunState.FAILED and [e.kind for e in run.errors] == ["bot-check"]
    assert run.note and "paused until" in run.note and "bot-check" in run.note
    assert len(run.episodes) == 1  # the run stopped: the second item was not tried
    paused = rig.catalog.subscriptions.get(sub.id)
    assert paused.paused_until == T0 + timedelta(hours=1)
    assert "bot-check" in (paused.pause_reason or "")
    rig.clock.now = T0 + timedelta(days=1)
    assert rig.worker.tick() == 1  # the pause has ended by the next due time


def test_a_rate_limited_source_pauses_too(tmp_path: Path) -> None:
    class Limited(FakeSource):
        def resolve(self, source: str, **_kw: Any) -> list[MediaItem]:
            raise SourceError(f"{source}: rate limited (HTTP 429): wait a while and try again")

    rig = Rig(tmp_path, Limited([]))
    sub, _ = rig.catalog.subscriptions.add(IngestRequest(FEED), "0 3 * * *", "UTC", T0)
    rig.catalog.subscriptions.run_now(sub.id, T0)
    rig.worker.drain()
    (run,) = rig.catalog.subscriptions.runs(sub.id)
    assert run.state is RunState.FAILED and [e.kind for e in run.errors] == ["rate-limit"]
    assert rig.catalog.subscriptions.get(sub.id).paused_until is not None


def test_cancel_stops_between_stages_and_the_episode_is_retried_later(
    tmp_path: Path, items: list[MediaItem]
) -> None:
    source = FlakySource(items, {})
    rig = Rig(tmp_path, source)
    job = rig.catalog.jobs.submit(IngestRequest(FEED), T0)
    source.on_fetch = lambda _item: rig.catalog.jobs.cancel(job.id, T0) and None
    rig.worker.drain()
    assert rig.catalog.jobs.get(job.id).state is JobState.CANCELLED
    (first, second) = rig.catalog.list_episodes()
    assert first.state is EpisodeState.FAILED and first.error == "cancelled"
    assert second.state is EpisodeState.QUEUED
    source.on_fetch = lambda _item: None
    again = rig.catalog.jobs.retry(job.id, T0)
    rig.worker.drain()
    assert rig.catalog.jobs.get(again.id).state is JobState.SUCCEEDED


def test_a_stopping_worker_puts_its_job_back(tmp_path: Path, items: list[MediaItem]) -> None:
    source = FlakySource(items, {})
    rig = Rig(tmp_path, source)
    job = rig.catalog.jobs.submit(IngestRequest(FEED), T0)
    source.on_fetch = lambda _item: rig.worker._stop.set()
    rig.worker.drain()
    assert rig.catalog.jobs.get(job.id).state is JobState.QUEUED


def test_owner_is_dead() -> None:
    me = "host:100:aaaa"
    assert owner_is_dead("host:100:bbbb", me)  # an earlier worker of this process
    assert not owner_is_dead("host:100:aaaa", me)
    assert owner_is_dead("host:7:cc", me, alive=lambda pid: False)
    assert not owner_is_dead("host:7:cc", me, alive=lambda pid: True)
    assert not owner_is_dead("other:7:cc", me, alive=lambda pid: False)
    assert not owner_is_dead("", me)
