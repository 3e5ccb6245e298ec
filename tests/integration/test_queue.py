"""The distributed queue for real: `castgraph serve` + `castgraph worker` processes + `castgraph
beat` on a real redis-server, real models, real yt-dlp against a local feed.

Short leases and a short visibility timeout stand in for the production ones; every wait is
bounded by a deadline and nothing asserts on how long anything took.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from castgraph.catalog import SqlCatalog
from castgraph.core.settings import Settings
from castgraph.retrieval.embeddings import make_embedder
from castgraph.retrieval.embeddings.base import TextEmbedder
from castgraph.retrieval.keyword import SqliteKeywordIndex
from castgraph.retrieval.vector import ChromaVectorIndex
from tests.chromaserver import chroma_server  # noqa: F401
from tests.mediaserver import FeedEpisode, MediaServer, media_server  # noqa: F401
from tests.pgserver import postgres_server, postgres_url  # noqa: F401
from tests.procs import api, process, serve, server_env, wait_for
from tests.redisserver import redis_server, redis_url  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KEY = "queue-test-key-0123"


@pytest.fixture
def env(tmp_path: Path, models_dir: Path, redis_url: str) -> dict[str, str]:  # noqa: F811
    return server_env(
        tmp_path,
        models_dir,
        KEY,
        CASTGRAPH_CPU_THREADS="1",
        CASTGRAPH_LOG_LEVEL="INFO",
        CASTGRAPH_LOG_FORMAT="json",
        CASTGRAPH_QUEUE_URL=redis_url,
        CASTGRAPH_LEASE_SECONDS="4",
        CASTGRAPH_QUEUE_VISIBILITY_TIMEOUT="8",
    )


def _mp3(src: Path, dst: Path) -> bytes:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(src), str(dst)], check=True
    )
    return dst.read_bytes()


def _feed(media_server: MediaServer, audio: Path, tmp_path: Path, n: int) -> str:  # noqa: F811
    jfk = _mp3(audio / "en_jfk" / "jfk.flac", tmp_path / "jfk.mp3")
    episodes = []
    for i in range(n):
        media_server.add_file(f"e{i}.mp3", jfk)
        episodes.append(FeedEpisode(f"Episode {i}", f"e{i}.mp3", datetime(2026, 1, 1 + i, 12)))
    return media_server.write_rss("feed.xml", episodes)


def _job(base: str, job_id: int) -> dict[str, Any]:
    job: dict[str, Any] = api(base, "GET", f"/api/jobs/{job_id}", KEY)
    return job


def _ended(base: str, job_id: int) -> dict[str, Any] | None:
    job = _job(base, job_id)
    return job if job["state"] not in ("queued", "running") else None


def _catalog(env: dict[str, str]) -> SqlCatalog:
    url = env.get("CASTGRAPH_DATABASE_URL") or f"sqlite:///{env['CASTGRAPH_DATA_DIR']}/catalog.db"
    return SqlCatalog(url).open()


def _no_duplicates(env: dict[str, str], catalog: SqlCatalog) -> None:
    """Every indexed episode's chunks once in the keyword index: as many as the catalog has."""
    with SqliteKeywordIndex(Path(env["CASTGRAPH_DATA_DIR"]) / "keyword.sqlite") as keyword:
        for episode_id in catalog.episode_ids():
            document = catalog.document(episode_id)
            assert document is not None
            held = keyword.chunks_of(episode_id)
            assert len(held) == len(document.chunks) > 0
            assert len({c.id for c in held}) == len(held)


def test_two_workers_racing_for_the_same_episodes_process_each_once(
    env: dict[str, str],
    audio_fixtures: Path,
    media_server: MediaServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    feed = _feed(media_server, audio_fixtures, tmp_path, 2)
    with (
        serve(env, tmp_path / "serve.log") as (base, _serve),
        process(["worker"], env, tmp_path / "worker-1.log"),
        process(["worker"], env, tmp_path / "worker-2.log"),
    ):
        first = api(base, "POST", "/api/ingest", KEY, {"url": feed})
        second = api(base, "POST", "/api/ingest", KEY, {"url": feed})
        for job in (first, second):
            ended = wait_for(lambda j=job: _ended(base, j["id"]), 300, f"job {job['id']}")
            assert ended["state"] == "succeeded", ended
        catalog = _catalog(env)
        per_episode: dict[str, list[str]] = {}
        for job in (first, second):
            for outcome in catalog.job_items.outcomes(job["id"]):
                per_episode.setdefault(outcome.episode_id, []).append(outcome.state)
        assert len(per_episode) == 2
        for states in per_episode.values():  # one job processed it, the other found it done
            assert sorted(states) == ["indexed", "skipped"]
        transcribed = _log_lines(tmp_path, '"state": "transcribing"')
        assert len(transcribed) == 2, transcribed
        _wait_synced(base, per_episode)
    _no_duplicates(env, catalog)


def test_a_worker_killed_mid_episode_is_replaced_and_nothing_doubles(
    env: dict[str, str],
    audio_fixtures: Path,
    media_server: MediaServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    feed = _feed(media_server, audio_fixtures, tmp_path, 1)
    with serve(env, tmp_path / "serve.log") as (base, _serve):
        with process(["worker"], env, tmp_path / "worker-1.log") as doomed:
            job = api(base, "POST", "/api/ingest", KEY, {"url": feed})
            wait_for(
                lambda: _job(base, job["id"])["progress"]["stage"] == "transcribing",
                300,
                "the episode to be transcribing",
            )
            os.killpg(doomed.pid, signal.SIGKILL)
        with process(["worker"], env, tmp_path / "worker-2.log"):
            ended = wait_for(lambda: _ended(base, job["id"]), 300, "the job to finish elsewhere")
        assert ended["state"] == "succeeded", ended
        catalog = _catalog(env)
        (outcome,) = catalog.job_items.outcomes(job["id"])
        assert outcome.state == "indexed"
        assert catalog.leases.holder(outcome.episode_id) == (None, None)
        redone = _log_lines(tmp_path, '"state": "transcribing"', "worker-2.log")
        assert redone, "the second worker did not take the killed step over"
        _wait_synced(base, [outcome.episode_id])
    _no_duplicates(env, catalog)


def test_serve_worker_and_beat_ingest_a_subscription_on_postgresql(
    env: dict[str, str],
    audio_fixtures: Path,
    media_server: MediaServer,  # noqa: F811
    postgres_url: str,  # noqa: F811
    chroma_server: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The production layout, less Neo4j: the catalog in PostgreSQL, vectors in a Chroma server
    (written by the workers), keyword index and graph in serve's own files (synced)."""
    env["CASTGRAPH_DATABASE_URL"] = postgres_url
    env["CASTGRAPH_CHROMA_URL"] = chroma_server
    feed = _feed(media_server, audio_fixtures, tmp_path, 2)
    with (
        serve(env, tmp_path / "serve.log") as (base, _serve),
        process(["worker", "--queues", "download,index"], env, tmp_path / "worker-io.log"),
        process(["worker", "--queues", "asr"], env, tmp_path / "worker-asr.log"),
        process(["beat"], env, tmp_path / "beat.log"),
    ):
        api(base, "POST", "/api/subscriptions", KEY, {"source": feed, "cron": "*/2 * * * * *"})
        runs = wait_for(lambda: _finished_runs(base), 300, "the first scheduled run")
        assert runs[-1]["state"] == "succeeded" and runs[-1]["ingested"] == 2, runs
        episodes = api(base, "GET", "/api/episodes", KEY)
        assert sorted((e["title"], e["state"]) for e in episodes) == [
            ("Episode 0", "indexed"),
            ("Episode 1", "indexed"),
        ]
        _wait_synced(base, [e["id"] for e in episodes])
        for episode in episodes:
            vector = api(base, "GET", f"/api/search?q=country&episode={episode['id']}", KEY)
            assert any(h["signals"]["vector"] for h in vector["results"])  # from the server
        catalog = _catalog(env)
        with ChromaVectorIndex(_embedder(env), path=None, url=chroma_server) as vectors:
            for episode in episodes:
                document = catalog.document(episode["id"])
                assert document is not None
                assert vectors.chunk_ids(episode["id"]) == {c.id for c in document.chunks}
        asr_log = (tmp_path / "worker-asr.log").read_text(errors="replace")
        assert '"state": "transcribing"' in asr_log  # speech recognition ran on the asr queue
        io_log = (tmp_path / "worker-io.log").read_text(errors="replace")
        assert '"state": "transcribing"' not in io_log


def _embedder(env: dict[str, str]) -> TextEmbedder:
    settings = Settings(models_dir=Path(env["CASTGRAPH_MODELS_DIR"]))
    return make_embedder(settings.embedding_model, models_dir=settings.resolved_models_dir)


def _wait_synced(base: str, episode_ids: Iterable[str]) -> None:
    """Until each episode is found by this server's own keyword index (synced from the catalog)."""
    for episode_id in episode_ids:
        found = wait_for(
            lambda e=episode_id: _searchable(base, f"country&episode={e}"),
            60,
            f"the keyword index to hold {episode_id}",
        )
        assert {h["episode_id"] for h in found} == {episode_id}


def _finished_runs(base: str) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = api(base, "GET", "/api/runs?subscription=1", KEY)
    return [r for r in runs if r["state"] not in ("queued", "running")]


def _searchable(base: str, query: str) -> list[dict[str, Any]]:
    found = api(base, "GET", f"/api/search?q={query}&k=10", KEY)
    return [h for h in found["results"] if h["signals"]["keyword"] is not None]


def _log_lines(tmp_path: Path, needle: str, *names: str) -> list[str]:
    files = [tmp_path / n for n in names] if names else sorted(tmp_path.glob("worker-*.log"))
    return [
        line for f in files for line in f.read_text(errors="replace").splitlines() if needle in line
    ]
