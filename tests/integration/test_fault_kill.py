"""SIGKILL at every named point of ``castgraph ingest`` (issue 13, faults), repeated run after run:
the real CLI process on a loopback feed, real models (tiny Whisper, the embedding diarizer, the
hash embedder), real stores. After the re-run every store holds exactly the catalog's chunks.

The kills go through the fault seam (castgraph/core/faults.py): ``CASTGRAPH_FAULT_KILL=POINT``
makes the process SIGKILL itself when it reaches POINT, so each run dies where it is meant to.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from castgraph.core import faults
from tests.mediaserver import FeedEpisode, MediaServer, media_server, transcode  # noqa: F401
from tests.storecheck import catalog_intact, store_report

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CLI = [sys.executable, "-m", "castgraph.api.cli"]
ROUND_TWO = (
    "catalog-analysis",
    "keyword",
    "vector",
    "graph-store-uncommitted",
    "graph-store-uncommitted",
    "graph-read-model",
)
"""Kills at the index writes of a second episode (one point twice in a row): round 1 has
already died at every point; these are the writes where another episode's rows are beside."""


def _env(data: Path, models_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASTGRAPH_FAULT_")}
    env.update(
        CASTGRAPH_DATA_DIR=str(data),
        CASTGRAPH_MODELS_DIR=str(models_dir),
        CASTGRAPH_ALLOW_PRIVATE_URLS="1",
        CASTGRAPH_CPU_THREADS="2",
        CASTGRAPH_WHISPER_MODEL="tiny.en",
        CASTGRAPH_EMBEDDING_MODEL="hash",
    )
    return env


def _ingest(env: dict[str, str], feed: str, **fault: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "ingest", feed, "--quiet"],
        env={**env, **fault},
        capture_output=True,
        text=True,
        timeout=600,
    )


def _kill_at(env: dict[str, str], feed: str, data: Path, point: str) -> None:
    proc = _ingest(env, feed, CASTGRAPH_FAULT_KILL=point)
    assert proc.returncode == -signal.SIGKILL, (
        f"the run meant to die at {point} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    )
    assert catalog_intact(data) == "ok", f"catalog damaged by a kill at {point}"


def _finish(env: dict[str, str], feed: str, data: Path, indexed: int) -> None:
    proc = _ingest(env, feed)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"{indexed} indexed, 0 failed" in proc.stderr
    assert store_report(data) == []
    assert not list((data / "media").glob("*/audio.wav")), "extracted audio left behind"


def test_killed_at_every_point_then_rerun_holds_exactly_the_catalog(
    tmp_path: Path,
    models_dir: Path,
    audio_fixtures: Path,
    media_server: MediaServer,  # noqa: F811
) -> None:
    speech = audio_fixtures / "en_librispeech"
    transcode(speech / "61-70968-0000.flac", media_server.root / "a.mp3")
    transcode(speech / "1272-128104-0000_picovoice_leopard_test.wav", media_server.root / "b.mp3")
    first = FeedEpisode("A", "a.mp3", datetime(2024, 1, 1, 12))
    data = tmp_path / "data"
    env = _env(data, models_dir)

    # Round 1: one episode, killed at every point in turn; each run resumes the last one's work.
    feed = media_server.write_rss("feed.xml", [first])
    for point in faults.POINTS:
        _kill_at(env, feed, data, point)
    # Killed right after "indexed" was recorded: nothing is left to do.
    _finish(env, feed, data, indexed=0)

    # Round 2: a second episode beside an indexed one, killed at its index writes, so the
    # stores hold another episode's chunks and entities meanwhile.
    feed = media_server.write_rss(
        "feed.xml", [first, FeedEpisode("B", "b.mp3", datetime(2024, 1, 2, 12))]
    )
    for point in ROUND_TWO:
        _kill_at(env, feed, data, point)
    _finish(env, feed, data, indexed=1)
