"""Subscriptions on a real ``castgraph serve``: real models, real yt-dlp, a local feed server.

A short six-field cron (seconds first) and a one-second tick stand in for "nightly"; every wait
is bounded by a deadline and nothing asserts on how long anything took.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests import procs
from tests.mediaserver import FeedEpisode, MediaServer, media_server  # noqa: F401
from tests.procs import serve, server_env, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CLI = [sys.executable, "-m", "castgraph.api.cli"]
KEY = "integration-key-0123"


@pytest.fixture
def env(tmp_path: Path, models_dir: Path) -> dict[str, str]:
    return server_env(
        tmp_path, models_dir, KEY, CASTGRAPH_CPU_THREADS="2", CASTGRAPH_LOG_LEVEL="WARNING"
    )


serving = serve  # ``castgraph serve`` on a free port (tests.procs)


def api(base: str, method: str, path: str, body: Any = None) -> Any:
    return procs.api(base, method, path, KEY, body)


def cli(env: dict[str, str], *args: str, check: int = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == check, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def _mp3(src: Path, dst: Path, seconds: float | None = None) -> bytes:
    cut = ["-t", str(seconds)] if seconds else []
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(src), *cut, str(dst)],
        check=True,
    )
    return dst.read_bytes()


def _finished_runs(base: str, sub_id: int) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = api(base, "GET", f"/api/runs?subscription={sub_id}")
    return [r for r in runs if r["state"] not in ("queued", "running")]


def test_a_growing_feed_is_ingested_by_the_schedule_alone(
    env: dict[str, str],
    audio_fixtures: Path,
    media_server: MediaServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    jfk = audio_fixtures / "en_jfk" / "jfk.flac"
    media_server.add_file("one.mp3", _mp3(jfk, tmp_path / "one.mp3", 6))
    media_server.add_file("two.mp3", _mp3(jfk, tmp_path / "two.mp3"))
    first = [FeedEpisode("One", "one.mp3", datetime(2026, 1, 1, 12))]
    feed = media_server.write_rss("feed.xml", first)
    with serving(env, tmp_path / "serve.log") as (base, _proc):
        out = cli(env, "subscribe", feed, "--cron", "*/3 * * * * *")  # through the server
        assert "subscription 1" in out.stderr
        wait_for(lambda: any(r["ingested"] for r in _finished_runs(base, 1)), 300, "run 1")
        media_server.write_rss(
            "feed.xml", [*first, FeedEpisode("Two", "two.mp3", datetime(2026, 1, 2, 12))]
        )
        wait_for(lambda: sum(r["ingested"] for r in _finished_runs(base, 1)) == 2, 300, "run 2")
        runs = _finished_runs(base, 1)
        assert all(r["state"] == "succeeded" for r in runs)
        new = [o["title"] for r in runs for o in r["episodes"]]
        assert new == ["Two", "One"]  # each item ingested once, by the run after it appeared
        episodes = api(base, "GET", "/api/episodes")
        assert sorted(e["title"] for e in episodes) == ["One", "Two"]
        assert {e["state"] for e in episodes} == {"indexed"}
        # `castgraph ingest` against the running server queues a job and follows it
        again = cli(env, "ingest", feed)
        assert "0 indexed, 0 failed, 2 skipped" in again.stderr and "succeeded" in again.stderr


def test_a_killed_server_loses_and_doubles_no_run(
    env: dict[str, str],
    audio_fixtures: Path,
    media_server: MediaServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    env = {**env, "CASTGRAPH_LOG_LEVEL": "INFO"}  # claims, sweeps and collapses, for a failure
    conv = audio_fixtures / "en_conversation_2spk" / "conversation.wav"
    jfk = audio_fixtures / "en_jfk" / "jfk.flac"
    media_server.add_file("a.mp3", _mp3(conv, tmp_path / "a.mp3"))
    media_server.add_file("b.mp3", _mp3(jfk, tmp_path / "b.mp3"))
    feed = media_server.write_rss(
        "feed.xml",
        [
            FeedEpisode("A", "a.mp3", datetime(2026, 1, 1, 12)),
            FeedEpisode("B", "b.mp3", datetime(2026, 1, 2, 12)),
        ],
    )
    log = tmp_path / "serve.log"
    with serving(env, log) as (base, proc):
        api(base, "POST", "/api/subscriptions", {"source": feed, "cron": "*/4 * * * * *"})

        def transcribing() -> bool:
            jobs = api(base, "GET", "/api/jobs")
            return any(j["progress"]["stage"] in ("transcribing", "diarizing") for j in jobs)

        wait_for(transcribing, 300, "the first run to be transcribing")
        os.kill(proc.pid, signal.SIGKILL)
    with serving(env, log) as (base, proc):
        wait_for(lambda: _finished_runs(base, 1), 300, "the killed run to finish")
        first = min(api(base, "GET", "/api/runs?subscription=1"), key=lambda r: r["id"])
        assert first["state"] == "succeeded" and first["ingested"] == 2  # resumed, not lost
        assert api(base, "GET", f"/api/jobs/{first['job_id']}")["attempts"] == 2
        episodes = api(base, "GET", "/api/episodes")
        assert sorted((e["title"], e["state"]) for e in episodes) == [
            ("A", "indexed"),
            ("B", "indexed"),
        ]
        # Sparser due times, then a kill while no run is open and the next one is ahead.
        api(base, "POST", "/api/subscriptions", {"source": feed, "cron": "*/10 * * * * *"})
        wait_for(lambda: _idle_with_time_to_spare(base), 60, "an idle moment")
        os.kill(proc.pid, signal.SIGKILL)
    killed_at = datetime.now(UTC)
    time.sleep(21)  # two due times pass while nothing runs
    restarted_at = datetime.now(UTC)  # before the start: due times after it are not missed ones
    with serving(env, log) as (base, proc):
        try:
            wait_for(lambda: _missed(base, killed_at, restarted_at), 300, "the missed due time")
        except AssertionError as exc:
            raise AssertionError(_schedule_state(base, log, killed_at, restarted_at)) from exc
        time.sleep(2)  # a second claim of the missed due times would show up by now
        runs = api(base, "GET", "/api/runs?subscription=1&limit=500")
    due = [datetime.fromisoformat(r["due_at"]) for r in runs]
    assert len(due) == len(set(due))  # one run per due time
    missed = _missed(base, killed_at, restarted_at, runs)
    assert len(missed) == 1 and missed[0]["state"] == "succeeded"
    assert missed[0]["ingested"] == 0 and missed[0]["skipped"] == 2  # nothing ingested twice


def _idle_with_time_to_spare(base: str) -> bool:
    """No run or job open and the next due time more than 4 s ahead, read between two reads of
    the subscription that agree (a due time claimed between the reads would open a run)."""
    before = api(base, "GET", "/api/subscriptions/1")["next_due_at"]
    runs = api(base, "GET", "/api/runs?subscription=1")
    jobs = api(base, "GET", "/api/jobs")
    after = api(base, "GET", "/api/subscriptions/1")["next_due_at"]
    ahead = datetime.fromisoformat(after) - datetime.now(UTC)
    busy = [x for x in [*runs, *jobs] if x["state"] in ("queued", "running")]
    return before == after and not busy and ahead.total_seconds() > 4


def _schedule_state(base: str, log: Path, after: datetime, before: datetime) -> str:
    """What the schedule looked like when a wait failed: for a report that explains itself."""
    runs = api(base, "GET", "/api/runs?subscription=1&limit=500")
    keys = ("id", "due_at", "trigger", "state", "found", "ingested", "skipped", "note", "errors")
    lines = [f"window: {after.isoformat()} .. {before.isoformat()}"]
    lines.append(f"subscription: {api(base, 'GET', '/api/subscriptions/1')}")
    lines += [f"run: { {k: r.get(k) for k in keys} }" for r in runs[:8]]
    lines += [f"job: {j}" for j in api(base, "GET", "/api/jobs")[:5]]
    text = log.read_text(errors="replace").splitlines()
    lines += [line for line in text if '" 200 OK' not in line][-60:]
    return "\n".join(lines)


def _missed(
    base: str, after: datetime, before: datetime, runs: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    runs = runs if runs is not None else api(base, "GET", "/api/runs?subscription=1&limit=500")
    return [
        r
        for r in runs
        if after < datetime.fromisoformat(r["due_at"]) < before
        and r["state"] not in ("queued", "running")
    ]


def test_a_rate_limited_feed_pauses_its_subscription_and_says_so(
    env: dict[str, str],
    media_server: MediaServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    feed = media_server.add_status("feed.xml", 429, "<html><body>Too Many Requests</body></html>")
    with serving(env, tmp_path / "serve.log") as (base, _proc):
        cli(env, "subscribe", feed, "--cron", "*/2 * * * * *")
        wait_for(lambda: _finished_runs(base, 1), 120, "the first run")
        time.sleep(5)  # due times pass: a paused subscription makes no new run
        (run,) = api(base, "GET", "/api/runs?subscription=1")
        assert run["state"] == "failed" and run["errors_by_kind"] == {"rate-limit": 1}
        assert "429" in run["errors"][0]["message"] and "paused until" in run["note"]
        sub = api(base, "GET", "/api/subscriptions/1")
        assert sub["paused_until"] and "rate-limit" in sub["pause_reason"]
        (listed,) = json.loads(cli(env, "subscriptions", "--json").stdout)
        assert listed["paused_until"] == sub["paused_until"]
        (shown,) = json.loads(cli(env, "runs", "--json").stdout)
        assert shown["errors_by_kind"] == {"rate-limit": 1} and shown["note"] == run["note"]
