"""The distributed queue's steps without Celery: a real SQLite catalog and pipeline with fake
stages, and a broker that only records what was sent (the test delivers it, in any order)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from castgraph.api.cli import app
from castgraph.api.queue import episodes, steps
from castgraph.catalog import SqlCatalog
from castgraph.core.errors import MediaError, SourceError
from castgraph.core.jobs import EpisodeOutcome, IngestRequest, JobState, RunState, Subscription
from castgraph.core.models import EpisodeState, MediaItem
from castgraph.core.ports import Source
from castgraph.core.settings import Settings
from castgraph.ingest.pipeline import IngestPipeline, Observer, Stages
from tests.unit.test_pipeline import FakeDiarizer, FakeTranscriber, _assign, _extract
from tests.unit.test_worker import FlakySource, _item

FEED = "https://example.org/feed.xml"
T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


class Broker:
    """Records sent tasks; ``deliver`` runs them like a worker would (retries counted)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[Any]]] = []

    def __call__(self, name: str, args: list[Any]) -> None:
        self.sent.append((name, args))

    def take(self, name: str | None = None) -> tuple[str, list[Any]]:
        index = next(i for i, (n, _) in enumerate(self.sent) if name is None or n == name)
        return self.sent.pop(index)


class Rig:
    def __init__(self, tmp_path: Path, source: FlakySource, worker: str = "w1") -> None:
        self.catalog = SqlCatalog(f"sqlite:///{tmp_path / 'catalog.db'}").open()
        self.settings = Settings(
            data_dir=tmp_path, retry_backoff=1, retry_attempts=2, lease_seconds=60
        )
        self.broker, self.source, self.now = Broker(), source, T0
        self.transcriber = FakeTranscriber()
        stages = Stages(
            transcriber=self.transcriber,
            diarizer=FakeDiarizer(),
            extract_wav=_extract,
            is_silent=lambda _p: False,
            assign_speakers=_assign,
        )

        def pipeline(observer: Observer) -> IngestPipeline:
            return IngestPipeline(self.catalog, stages, self.settings.media_dir, observer)

        def sources(text: str, _sub: Subscription | None) -> list[tuple[str, Source]]:
            return [(text, self.source)]

        self.ctx = steps.StepContext(
            self.settings, self.catalog, pipeline, self.broker, worker, self.clock, sources
        )

    def clock(self) -> datetime:
        return self.now

    def deliver(self, name: str | None = None) -> tuple[str, list[Any]]:
        """Run the oldest sent task (of ``name``), as a worker would."""
        task, args = self.broker.take(name)
        run: dict[str, Callable[..., Any]] = {
            steps.JOB: lambda *a: steps.run_job(self.ctx, *a),
            steps.DOWNLOAD: lambda *a: episodes.download(self.ctx, *a),
            steps.ASR: lambda *a: episodes.asr(self.ctx, *a),
            steps.INDEX: lambda *a: episodes.index(self.ctx, *a),
            steps.REPROCESS: lambda *a: episodes.reprocess(self.ctx, *a),
        }
        run[task](*args)
        return task, args

    def drain(self) -> list[str]:
        names = []
        while self.broker.sent:
            names.append(self.deliver()[0])
        return names


def test_a_job_is_planned_then_each_episode_goes_download_asr_index(tmp_path: Path) -> None:
    rig = Rig(tmp_path, FlakySource([_item(1), _item(2)], {}))
    job = rig.catalog.jobs.submit(IngestRequest(FEED), T0)
    rig.broker(steps.JOB, [job.id])
    rig.broker(steps.JOB, [job.id])  # sent twice (API and tick): planned once
    assert (
        rig.drain()
        == [steps.JOB, steps.JOB] + [steps.DOWNLOAD] * 2 + [steps.ASR] * 2 + [steps.INDEX] * 2
    )
    done = rig.catalog.jobs.get(job.id)
    assert done.state is JobState.SUCCEEDED
    assert [o.state for o in rig.catalog.job_items.outcomes(job.id)] == ["indexed", "indexed"]
    assert {e.state for e in rig.catalog.list_episodes()} == {EpisodeState.INDEXED}
    assert all(rig.catalog.leases.holder(e.id) == (None, None) for e in rig.catalog.list_episodes())


def test_an_episode_leased_by_another_job_waits_then_is_found_done(tmp_path: Path) -> None:
    rig = Rig(tmp_path, FlakySource([_item(1)], {}))
    first = rig.catalog.jobs.submit(IngestRequest(FEED), T0)
    second = rig.catalog.jobs.submit(IngestRequest(FEED), T0)
    for job in (first, second):
        rig.broker(steps.JOB, [job.id])
        rig.deliver(steps.JOB)
    rig.deliver(steps.DOWNLOAD)  # the first job's download takes the lease
    with pytest.raises(steps.RetryLater):  # the second's waits for it
        rig.deliver(steps.DOWNLOAD)
    rig.drain()  # the first job's asr and index end the episode and release the lease
    rig.broker(steps.DOWNLOAD, _download_args(rig, second.id))
    rig.deliver(steps.DOWNLOAD)
    assert [o.state for o in rig.catalog.job_items.outcomes(second.id)] == ["skipped"]
    assert rig.catalog.jobs.get(second.id).state is JobState.SUCCEEDED
    assert len(rig.transcriber.hints) == 1  # transcribed once


def test_an_expired_lease_is_taken_over(tmp_path: Path) -> None:
    rig = Rig(tmp_path, FlakySource([_item(1)], {}))
    catalog = rig.catalog
    episode = catalog.register(_item(1))
    assert catalog.leases.acquire(episode.id, "job-1", T0, 60)
    assert not catalog.leases.acquire(episode.id, "job-2", T0 + timedelta(seconds=59), 60)
    assert catalog.leases.acquire(episode.id, "job-1", T0 + timedelta(seconds=59), 60)  # renewed
    assert catalog.leases.acquire(episode.id, "job-2", T0 + timedelta(seconds=120), 60)
    assert catalog.leases.holder(episode.id)[0] == "job-2"


def test_transient_failures_retry_and_permanent_ones_end_the_episode(tmp_path: Path) -> None:
    failures = {"feed:1": ["HTTP Error 503: Service Unavailable"], "feed:2": ["HTTP Error 404"]}
    rig = Rig(tmp_path, FlakySource([_item(1), _item(2)], failures))
    job = rig.catalog.jobs.submit(IngestRequest(FEED), T0)
    rig.broker(steps.JOB, [job.id])
    rig.deliver(steps.JOB)
    with pytest.raises(steps.RetryLater) as later:
        rig.deliver(steps.DOWNLOAD)  # feed:1, a 503: tried again
    assert later.value.seconds == rig.settings.retry_backoff
    rig.deliver(steps.DOWNLOAD)  # feed:2, a 404: failed for good
    rig.broker(steps.DOWNLOAD, _download_args(rig, job.id, "feed:1"))
    rig.deliver(steps.DOWNLOAD)
    rig.drain()
    outcomes = {o.title: o for o in rig.catalog.job_items.outcomes(job.id)}
    assert outcomes["Ep 1"].state == "indexed"
    assert outcomes["Ep 2"].state == "failed" and "404" in (outcomes["Ep 2"].error or "")
    assert rig.catalog.jobs.get(job.id).state is JobState.FAILED


def test_the_last_episode_finishes_the_subscription_run(tmp_path: Path) -> None:
    rig = Rig(tmp_path, FlakySource([_item(1)], {}))
    sub, _ = rig.catalog.subscriptions.add(IngestRequest(FEED), "*/5 * * * * *", "UTC", T0)
    rig.now = T0 + timedelta(seconds=5)
    assert steps.tick(rig.ctx) == 1  # the due run's job, sent
    rig.drain()
    (run,) = rig.catalog.subscriptions.runs(sub.id)
    assert run.state is RunState.SUCCEEDED and run.ingested == 1 and run.found == 1
    assert rig.catalog.jobs.get(run.job_id or 0).state is JobState.SUCCEEDED


def test_a_job_orphaned_while_planning_is_requeued_by_the_tick(tmp_path: Path) -> None:
    rig = Rig(tmp_path, FlakySource([_item(1)], {}))
    job = rig.catalog.jobs.submit(IngestRequest(FEED), T0)
    assert rig.catalog.job_items.claim(job.id, "dead-worker", T0) is not None  # then it died
    rig.now = T0 + timedelta(seconds=rig.settings.job_timeout + 1)
    steps.tick(rig.ctx)
    assert rig.catalog.jobs.get(job.id).state is JobState.QUEUED
    assert rig.broker.sent == [(steps.JOB, [job.id])]


def test_a_searchable_episode_is_reprocessed_in_one_step_and_stays_indexed(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path, FlakySource([_item(1)], {}))
    first = rig.catalog.jobs.submit(IngestRequest(FEED), T0)
    rig.broker(steps.JOB, [first.id])
    rig.drain()
    again = rig.catalog.jobs.submit(IngestRequest(FEED, force=True), T0)
    rig.broker(steps.JOB, [again.id])
    assert rig.drain() == [steps.JOB, steps.DOWNLOAD, steps.REPROCESS]
    (episode,) = rig.catalog.list_episodes()
    assert episode.state is EpisodeState.INDEXED and episode.build == 1
    assert rig.catalog.jobs.get(again.id).state is JobState.SUCCEEDED


def test_cuda_workers_batch_by_default() -> None:
    assert Settings(whisper_device="cuda").resolved_whisper_batch_size == 16
    assert Settings(whisper_device="cpu").resolved_whisper_batch_size == 0
    assert Settings(whisper_device="cuda", whisper_batch_size=0).resolved_whisper_batch_size == 0


def _download_args(rig: Rig, job_id: int, source_id: str = "feed:1") -> list[Any]:
    item: MediaItem = next(i for i in rig.source.items if i.source_id == source_id)
    episode = next(e for e in rig.catalog.list_episodes() if e.source_id == source_id)
    return [job_id, episode.id, steps.item_json(item), FEED]


def test_a_job_whose_finisher_died_is_finished_by_the_tick(tmp_path: Path) -> None:
    rig = Rig(tmp_path, FlakySource([_item(1)], {}))
    job = rig.catalog.jobs.submit(IngestRequest(FEED), T0)
    rig.broker(steps.JOB, [job.id])
    rig.deliver(steps.JOB)
    (item,) = rig.catalog.job_items.outcomes(job.id)
    # The last episode's outcome is recorded, then its worker dies before finishing the job.
    outcome = EpisodeOutcome(item.episode_id, item.title, "indexed")
    assert rig.catalog.job_items.finish(job.id, outcome, T0)
    assert rig.catalog.jobs.get(job.id).state is JobState.RUNNING
    rig.broker.sent.clear()
    steps.tick(rig.ctx)
    assert rig.catalog.jobs.get(job.id).state is JobState.SUCCEEDED
    steps.tick(rig.ctx)  # once only
    assert rig.catalog.jobs.get(job.id).state is JobState.SUCCEEDED


def test_a_step_that_keeps_killing_its_worker_fails_the_episode(tmp_path: Path) -> None:
    rig = Rig(tmp_path, FlakySource([_item(1)], {}))
    job = rig.catalog.jobs.submit(IngestRequest(FEED), T0)
    rig.broker(steps.JOB, [job.id])
    rig.deliver(steps.JOB)
    name, args = rig.broker.sent[0]
    for _ in range(rig.settings.retry_attempts):  # each delivery died mid-step
        rig.catalog.job_items.attempt(job.id, args[1])
    rig.deliver(steps.DOWNLOAD)
    (outcome,) = rig.catalog.job_items.outcomes(job.id)
    assert outcome.state == "failed" and "worker died" in (outcome.error or "")
    assert rig.catalog.jobs.get(job.id).state is JobState.FAILED
    assert name == steps.DOWNLOAD and not rig.broker.sent


def test_cancelling_a_reprocess_keeps_the_episode_searchable(tmp_path: Path) -> None:
    rig = Rig(tmp_path, FlakySource([_item(1)], {}))
    first = rig.catalog.jobs.submit(IngestRequest(FEED), T0)
    rig.broker(steps.JOB, [first.id])
    rig.drain()
    again = rig.catalog.jobs.submit(IngestRequest(FEED, force=True), T0)
    rig.broker(steps.JOB, [again.id])
    rig.deliver(steps.JOB)
    rig.catalog.jobs.cancel(again.id, T0)  # running: stops at its next step
    rig.drain()
    (episode,) = rig.catalog.list_episodes()
    assert episode.state is EpisodeState.INDEXED and episode.build == 0
    assert [o.state for o in rig.catalog.job_items.outcomes(again.id)] == ["cancelled"]
    assert rig.catalog.jobs.get(again.id).state is JobState.CANCELLED


def test_a_released_lease_is_not_renewed_and_a_handoff_never_shortens_it(tmp_path: Path) -> None:
    rig = Rig(tmp_path, FlakySource([_item(1)], {}))
    leases, episode = rig.catalog.leases, rig.catalog.register(_item(1))
    assert leases.acquire(episode.id, "job-1", T0, 60)
    assert leases.renew(episode.id, "job-1", T0, 3600)
    assert leases.renew(episode.id, "job-1", T0, 60)  # a routine renewal after a hand-off
    assert leases.holder(episode.id) == ("job-1", T0 + timedelta(seconds=3600))
    leases.release(episode.id, "job-1")
    assert not leases.renew(episode.id, "job-1", T0, 60)
    assert leases.holder(episode.id) == (None, None)


def test_an_audio_path_outside_the_media_directory_is_refused(tmp_path: Path) -> None:
    item = steps.item_json(_item(1))
    media = tmp_path / "media"
    assert (
        steps.fetched_of({"item": item, "wav": "ep/audio.wav", "names": []}, media).wav
        == (media / "ep" / "audio.wav").resolve()
    )
    for wav in ("../secret.wav", "/etc/passwd"):
        with pytest.raises(MediaError):
            steps.fetched_of({"item": item, "wav": wav, "names": []}, media)


class BlinkingFeed(FlakySource):
    """A feed whose listing fails with ``errors`` first, one per try."""

    def __init__(self, items: list[MediaItem], errors: list[str]) -> None:
        super().__init__(items, {})
        self.errors = errors

    def resolve(self, source: str, **kwargs: Any) -> list[MediaItem]:
        if self.errors:
            raise SourceError(self.errors.pop(0))
        return super().resolve(source, **kwargs)


def test_a_transient_listing_failure_is_planned_again(tmp_path: Path) -> None:
    rig = Rig(tmp_path, BlinkingFeed([_item(1)], ["HTTP Error 503: Service Unavailable"]))
    job = rig.catalog.jobs.submit(IngestRequest(FEED), T0)
    rig.broker(steps.JOB, [job.id])
    with pytest.raises(steps.RetryLater):
        rig.deliver(steps.JOB)
    assert rig.catalog.jobs.get(job.id).state is JobState.QUEUED  # claimable by the retry
    rig.broker(steps.JOB, [job.id])
    rig.drain()
    assert rig.catalog.jobs.get(job.id).state is JobState.SUCCEEDED


def test_a_requeued_orphan_puts_its_run_back_in_the_queue(tmp_path: Path) -> None:
    rig = Rig(tmp_path, FlakySource([_item(1)], {}))
    sub, _ = rig.catalog.subscriptions.add(IngestRequest(FEED), "*/5 * * * * *", "UTC", T0)
    run = rig.catalog.subscriptions.run_now(sub.id, T0)
    assert rig.catalog.job_items.claim(run.job_id or 0, "dead-worker", T0) is not None
    assert rig.catalog.subscriptions.get_run(run.id).state is RunState.RUNNING
    rig.catalog.job_items.requeue_orphans(T0 + timedelta(hours=1), rig.settings.job_timeout)
    assert rig.catalog.subscriptions.get_run(run.id).state is RunState.QUEUED


@pytest.mark.parametrize(
    ("args", "url", "message"),
    [
        (["worker", "--queues", "asr,gpu"], "redis://127.0.0.1:1/0", "--queues 'asr,gpu'"),
        (["worker", "--queues", " , "], "redis://127.0.0.1:1/0", "name one or more of"),
        (["worker"], None, "set CASTGRAPH_QUEUE_URL"),
        (["beat"], None, "set CASTGRAPH_QUEUE_URL"),
    ],
)
def test_worker_and_beat_refuse_bad_input_before_starting(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    url: str | None,
    message: str,
) -> None:
    monkeypatch.setenv("CASTGRAPH_DATA_DIR", str(tmp_path))
    if url:
        monkeypatch.setenv("CASTGRAPH_QUEUE_URL", url)
    else:
        monkeypatch.delenv("CASTGRAPH_QUEUE_URL", raising=False)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())
    assert not (tmp_path / "celerybeat-schedule").exists()
