"""The schedule in the catalog: cron, atomic claims of due subscriptions, jobs and the sweep."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from castgraph.catalog import SqlCatalog
from castgraph.core.cron import check_cron, next_after
from castgraph.core.errors import InputError, NotFoundError
from castgraph.core.jobs import IngestRequest, JobKind, JobState, RunState, SubscriptionState

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FEED = "https://example.org/feed.xml"


def test_cron_reads_fixed_times_in_the_time_zone() -> None:
    # 03:00 in Madrid is 02:00 UTC in winter and 01:00 UTC in summer
    assert next_after("0 3 * * *", "Europe/Madrid", T0) == datetime(2026, 3, 2, 2, tzinfo=UTC)
    summer = datetime(2026, 7, 1, 12, tzinfo=UTC)
    assert next_after("0 3 * * *", "Europe/Madrid", summer) == datetime(2026, 7, 2, 1, tzinfo=UTC)
    assert next_after("*/5 * * * * *", "UTC", T0) == T0 + timedelta(seconds=5)
    assert next_after("0 3 * * *", "UTC", datetime(2026, 3, 1, 3, tzinfo=UTC)).day == 2


@pytest.mark.parametrize("expr", ["", "0 3 * *", "61 3 * * *", "0 3 * * FOO", "a b c d e"])
def test_bad_cron_is_an_input_error(expr: str) -> None:
    with pytest.raises(InputError, match="cron"):
        check_cron(expr)


def test_unknown_time_zone_is_an_input_error() -> None:
    with pytest.raises(InputError, match="time zone"):
        next_after("0 3 * * *", "Mars/Olympus", T0)


def _subscribe(catalog: SqlCatalog, cron: str = "0 3 * * *", tz: str = "UTC") -> int:
    sub, created = catalog.subscriptions.add(IngestRequest(FEED, limit=2), cron, tz, T0)
    assert created
    return sub.id


def test_a_due_time_is_claimed_once_and_missed_ones_collapse(catalog: SqlCatalog) -> None:
    sub_id = _subscribe(catalog)
    store = catalog.subscriptions
    assert store.get(sub_id).next_due_at == datetime(2026, 3, 2, 3, tzinfo=UTC)
    assert store.claim_due(T0) == []
    three_days_later = datetime(2026, 3, 5, 9, tzinfo=UTC)  # 4 due times were missed
    runs = store.claim_due(three_days_later)
    assert len(runs) == 1 and runs[0].due_at == datetime(2026, 3, 2, 3, tzinfo=UTC)
    assert store.claim_due(three_days_later) == []
    assert store.get(sub_id).next_due_at == datetime(2026, 3, 6, 3, tzinfo=UTC)
    job = catalog.jobs.get(runs[0].job_id or 0)
    assert job.kind is JobKind.SUBSCRIPTION_RUN and job.request.limit == 2
    assert job.subscription_id == sub_id and job.state is JobState.QUEUED


def _race(catalogs: list[SqlCatalog], work: Callable[[SqlCatalog], None]) -> None:
    """Run ``work`` on each catalog (its own engine and connections) in threads started
    together; fail if a thread raised."""
    start = threading.Barrier(len(catalogs))
    failures: list[BaseException] = []

    def run(c: SqlCatalog) -> None:
        start.wait()
        try:
            work(c)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in catalogs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert failures == []


def test_two_concurrent_claimers_make_one_run(catalog_url: str) -> None:
    first = SqlCatalog(catalog_url).open()
    sub_id = _subscribe(first, cron="*/5 * * * * *")
    late = T0 + timedelta(minutes=1)
    found: list[int] = []
    _race(
        [first, *(SqlCatalog(catalog_url).open() for _ in range(3))],
        lambda c: found.extend(r.id for r in c.subscriptions.claim_due(late)),
    )
    assert len(found) == 1
    assert len(first.subscriptions.runs(sub_id)) == 1
    assert len(first.jobs.all()) == 1


def test_concurrent_workers_take_each_job_once(catalog_url: str) -> None:
    first = SqlCatalog(catalog_url).open()
    submitted = {first.jobs.submit(IngestRequest(f"{FEED}?{n}"), T0).id for n in range(12)}
    taken: list[tuple[str, int]] = []

    def drain(c: SqlCatalog) -> None:
        owner = f"worker-{id(c)}"
        while (job := c.jobs.take(owner, T0)) is not None:
            taken.append((owner, job.id))

    _race([first, *(SqlCatalog(catalog_url).open() for _ in range(3))], drain)
    ids = [job_id for _, job_id in taken]
    assert sorted(ids) == sorted(submitted)  # every job once: none lost, none run twice
    owners = {job_id: owner for owner, job_id in taken}
    assert all(first.jobs.get(i).owner == owners[i] for i in submitted)


def test_concurrent_run_nows_share_one_run(catalog_url: str) -> None:
    first = SqlCatalog(catalog_url).open()
    sub_id = _subscribe(first)
    found: list[int] = []
    _race(
        [first, *(SqlCatalog(catalog_url).open() for _ in range(3))],
        lambda c: found.append(c.subscriptions.run_now(sub_id, T0).id),
    )
    assert len(set(found)) == 1 and len(first.subscriptions.runs(sub_id)) == 1


def test_times_are_utc_whatever_the_database_clock_zone(catalog: SqlCatalog) -> None:
    sub_id = _subscribe(catalog)
    before = datetime.now(UTC)
    catalog.subscriptions.mark_discovered(sub_id)  # updated_at from the database's now()
    after = datetime.now(UTC)
    updated = catalog.subscriptions.get(sub_id).updated_at
    # A zone mix-up is off by hours; a minute's slack only absorbs clock granularity.
    assert before - timedelta(minutes=1) <= updated <= after + timedelta(minutes=1)
    assert catalog.subscriptions.get(sub_id).next_due_at == datetime(2026, 3, 2, 3, tzinfo=UTC)


def test_paused_subscriptions_are_not_claimed(catalog: SqlCatalog) -> None:
    sub_id = _subscribe(catalog)
    store, late = catalog.subscriptions, T0 + timedelta(days=2)
    store.pause(sub_id, T0, reason="by hand")
    assert store.get(sub_id).state is SubscriptionState.PAUSED
    assert store.claim_due(late) == []
    store.resume(sub_id, T0)
    store.pause(sub_id, T0, until=T0 + timedelta(days=3), reason="bot check")
    assert store.get(sub_id).paused_at(late) and store.claim_due(late) == []
    assert len(store.claim_due(T0 + timedelta(days=4))) == 1


def test_run_now_reuses_an_open_run(catalog: SqlCatalog) -> None:
    sub_id = _subscribe(catalog)
    first = catalog.subscriptions.run_now(sub_id, T0)
    again = catalog.subscriptions.run_now(sub_id, T0 + timedelta(seconds=1))
    assert first.id == again.id and first.trigger == "manual"
    with pytest.raises(NotFoundError):
        catalog.subscriptions.run_now(999, T0)


def test_jobs_are_taken_once_and_dead_workers_are_swept(catalog: SqlCatalog) -> None:
    jobs = catalog.jobs
    first = jobs.submit(IngestRequest(FEED), T0)
    second = jobs.submit(IngestRequest("https://example.org/other"), T0)
    taken = jobs.take("host:1:a", T0)
    assert taken is not None and taken.id == first.id and taken.state is JobState.RUNNING
    assert jobs.take("host:2:b", T0) is not None  # the second job
    assert jobs.take("host:2:b", T0) is None
    # worker a died: its job is queued again; b beats in time and keeps its job
    jobs.heartbeat(second.id, "host:2:b", T0 + timedelta(seconds=50))
    swept = jobs.sweep(
        T0 + timedelta(seconds=60), timeout=30, dead=lambda owner: owner == "host:1:a"
    )
    assert swept == [first.id]
    assert jobs.get(first.id).state is JobState.QUEUED
    assert jobs.get(second.id).state is JobState.RUNNING
    # a job whose heartbeat stopped long ago fails after its last attempt
    retaken = jobs.take("host:3:c", T0)
    assert retaken is not None and retaken.attempts == 2
    swept = jobs.sweep(T0 + timedelta(hours=1), timeout=30, dead=lambda _: False, max_attempts=2)
    assert set(swept) == {first.id, second.id}
    assert jobs.get(first.id).state is JobState.FAILED
    assert "worker died" in (jobs.get(first.id).error or "")


def test_cancel_a_queued_run_job_and_a_running_one(catalog: SqlCatalog) -> None:
    sub_id = _subscribe(catalog)
    run = catalog.subscriptions.run_now(sub_id, T0)
    job = catalog.jobs.cancel(run.job_id or 0, T0)
    assert job.state is JobState.CANCELLED
    assert catalog.subscriptions.get_run(run.id).state is RunState.CANCELLED
    other = catalog.jobs.submit(IngestRequest(FEED), T0)
    catalog.jobs.take("w", T0)
    assert catalog.jobs.cancel(other.id, T0).cancel_requested
    assert catalog.jobs.get(other.id).state is JobState.RUNNING


def test_unsubscribe_removes_runs_and_cancels_queued_jobs(catalog: SqlCatalog) -> None:
    sub_id = _subscribe(catalog)
    run = catalog.subscriptions.run_now(sub_id, T0)
    catalog.subscriptions.delete(sub_id)
    assert catalog.subscriptions.all() == []
    assert catalog.jobs.get(run.job_id or 0).state is JobState.CANCELLED
    with pytest.raises(NotFoundError):
        catalog.subscriptions.get_run(run.id)


def test_an_older_catalog_gains_the_scheduler_tables(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as conn:  # a catalog from before issue 10, missing a newer column
        conn.execute(
            "create table subscriptions (id integer primary key, source text unique, "
            "options json, cron varchar(128), timezone varchar(64), state varchar(16), "
            "created_at datetime, updated_at datetime)"
        )
    catalog = SqlCatalog(f"sqlite:///{db}").open()
    sub_id = _subscribe(catalog)
    assert catalog.subscriptions.get(sub_id).next_due_at is not None
    assert catalog.jobs.all() == []


def test_due_times_passing_during_an_open_run_collapse_into_it(catalog: SqlCatalog) -> None:
    sub_id = _subscribe(catalog, cron="*/5 * * * * *")
    store = catalog.subscriptions
    assert len(store.claim_due(T0 + timedelta(seconds=6))) == 1
    assert store.claim_due(T0 + timedelta(seconds=11)) == []  # the first run is still queued
    assert store.get(sub_id).next_due_at == T0 + timedelta(seconds=15)
    assert len(store.runs(sub_id)) == 1


def test_last_runs_are_each_subscriptions_latest_run(catalog: SqlCatalog) -> None:
    store = catalog.subscriptions
    first = _subscribe(catalog)
    second, _ = store.add(IngestRequest("https://example.org/other"), "0 3 * * *", "UTC", T0)
    never, _ = store.add(IngestRequest("https://example.org/never"), "0 3 * * *", "UTC", T0)
    old = store.run_now(first, T0)
    catalog.jobs.cancel(old.job_id or 0, T0)  # closed: the next run_now makes a new run
    latest = store.run_now(first, T0 + timedelta(seconds=1), "retry")
    other = store.run_now(second.id, T0)
    found = store.last_runs([first, second.id, never.id])
    assert found == {first: store.runs(first, limit=1)[0], second.id: other}
    assert found[first].id == latest.id and store.last_runs([]) == {}
    # the job listing names each run's subscription (a plain ingest job has none)
    plain = catalog.jobs.submit(IngestRequest(FEED), T0)
    subs = {j.id: j.subscription_id for j in catalog.jobs.all()}
    runs = {old.job_id: first, latest.job_id: first, other.job_id: second.id}
    assert subs == {**runs, plain.id: None}


def test_a_run_and_its_job_end_together_so_a_crash_after_does_not_repeat_it(
    catalog: SqlCatalog,
) -> None:
    sub_id = _subscribe(catalog, cron="*/10 * * * * *")
    store = catalog.subscriptions
    (run,) = store.claim_due(T0 + timedelta(seconds=10))
    job = catalog.jobs.take("host:1:a", T0 + timedelta(seconds=10))
    assert job is not None and job.run_id == run.id
    store.finish_run(
        run.id,
        RunState.SUCCEEDED,
        T0 + timedelta(seconds=12),
        outcomes=[],
        errors=[],
        found=2,
        skipped=2,
        job=(job.id, JobState.SUCCEEDED, None),
    )
    assert catalog.jobs.get(job.id).state is JobState.SUCCEEDED
    # The worker dies right after: nothing is swept back, and the next due time gets its run.
    assert catalog.jobs.sweep(T0 + timedelta(seconds=21), timeout=30, dead=lambda _: True) == []
    assert store.get_run(run.id).state is RunState.SUCCEEDED
    (later,) = store.claim_due(T0 + timedelta(seconds=21))
    assert later.due_at == T0 + timedelta(seconds=20)
    assert [r.id for r in store.runs(sub_id)] == [later.id, run.id]
