"""`castgraph ingest` end to end: the real CLI process, real models, real audio, real yt-dlp."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.mediaserver import FeedEpisode, MediaServer, media_server  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CLI = [sys.executable, "-m", "castgraph.api.cli"]


def _env(data_dir: Path, models_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        CASTGRAPH_DATA_DIR=str(data_dir),
        CASTGRAPH_MODELS_DIR=str(models_dir),
        CASTGRAPH_ALLOW_PRIVATE_URLS="1",
        CASTGRAPH_CPU_THREADS="2",
    )
    return env


def _run(
    env: dict[str, str], *args: str, check: int | None = 0
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=900)
    if check is not None:
        assert proc.returncode == check, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def _episodes(env: dict[str, str]) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(_run(env, "episodes", "--json").stdout)
    return data


def _segments(env: dict[str, str], episode_id: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(
        _run(env, "episodes", "show", episode_id, "--json").stdout
    )
    return data


def _encode(src: Path, dst: Path, *extra: str) -> Path:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(src), *extra, str(dst)],
        check=True,
    )
    return dst


@pytest.fixture
def env(tmp_path: Path, models_dir: Path) -> dict[str, str]:
    return _env(tmp_path / "data", models_dir)


def test_local_files_become_speaker_labelled_transcripts(
    env: dict[str, str], audio_fixtures: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(audio_fixtures / "en_jfk" / "jfk.flac", folder / "a_jfk.flac")
    shutil.copy(audio_fixtures / "en_conversation_2spk" / "conversation.wav", folder / "b_conv.wav")
    proc = _run(env, "ingest", str(folder), "--quiet")
    assert "2 indexed, 0 failed" in proc.stderr

    episodes = {e["title"]: e for e in _episodes(env)}
    assert set(episodes) == {"a_jfk", "b_conv"}
    jfk, conv = episodes["a_jfk"], episodes["b_conv"]
    for ep in (jfk, conv):
        assert ep["state"] == "indexed" and ep["language"] == "en" and ep["error"] is None
        assert ep["duration"] > 10 and ep["url"] and ep["id"]
    assert len(jfk["speakers"]) == 1 and len(conv["speakers"]) == 2

    segments = _segments(env, conv["id"])
    assert {s["speaker"] for s in segments} == set(conv["speakers"])
    assert all(s["start"] < s["end"] for s in segments)
    assert "chicago" in " ".join(s["text"] for s in segments).lower()
    text = _run(env, "episodes", "show", jfk["id"][:6]).stdout
    assert "[00:00] SPEAKER_00: And so my fellow Americans" in text

    again = _run(env, "ingest", str(folder), "--quiet")
    assert "0 indexed, 0 failed, 2 skipped" in again.stderr


def test_rss_feed_incremental_and_a_missing_item(
    env: dict[str, str],
    audio_fixtures: Path,
    media_server: MediaServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    media_server.add_file(
        "jfk.mp3",
        _encode(audio_fixtures / "en_jfk" / "jfk.flac", tmp_path / "jfk.mp3").read_bytes(),
    )
    es = next((audio_fixtures / "es_mls_1spk").glob("*.opus"))
    media_server.add_file("es.mp3", _encode(es, tmp_path / "es.mp3").read_bytes())
    first = [
        FeedEpisode("JFK", "jfk.mp3", datetime(2024, 1, 1, 12)),
        FeedEpisode("Gone", "missing.mp3", datetime(2024, 1, 2, 12)),
    ]
    feed = media_server.write_rss("feed.xml", first)
    proc = _run(env, "ingest", feed, "--quiet", check=1)
    assert "1 indexed, 1 failed" in proc.stderr
    states = {e["title"]: e for e in _episodes(env)}
    assert states["JFK"]["state"] == "indexed"
    assert states["Gone"]["state"] == "failed" and "404" in states["Gone"]["error"]

    media_server.write_rss(
        "feed.xml", [*first, FeedEpisode("Spanish", "es.mp3", datetime(2024, 1, 3, 12))]
    )
    proc = _run(env, "ingest", feed, "--quiet", check=1)
    assert "1 indexed, 1 failed, 1 skipped" in proc.stderr
    spanish = next(e for e in _episodes(env) if e["title"] == "Spanish")
    assert spanish["state"] == "indexed" and spanish["language"] == "es"
    assert len(_episodes(env)) == 3


def test_bad_inputs_fail_clearly_and_lose_nothing(
    env: dict[str, str], audio_fixtures: Path, tmp_path: Path
) -> None:
    proc = _run(env, "ingest", str(tmp_path / "nope.mp3"), check=2)
    assert "no such file or folder" in proc.stderr
    assert not (Path(env["CASTGRAPH_DATA_DIR"]) / "catalog.db").exists()
    proc = _run(env, "ingest", "ftp://example.org/a.mp3", check=2)
    assert "ftp" in proc.stderr

    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(audio_fixtures / "en_jfk" / "jfk.flac", folder / "good.flac")
    (folder / "corrupt.mp3").write_bytes(b"this is not audio at all" * 100)
    _encode(audio_fixtures / "en_jfk" / "jfk.flac", folder / "silent.wav", "-af", "volume=0")
    proc = _run(env, "ingest", str(folder), "--quiet", check=1)
    assert "1 indexed, 2 failed" in proc.stderr
    by_title = {e["title"]: e for e in _episodes(env)}
    assert by_title["good"]["state"] == "indexed"
    assert "not a media file" in by_title["corrupt"]["error"]
    assert "no speech" in by_title["silent"]["error"]

    no_private = dict(env, CASTGRAPH_ALLOW_PRIVATE_URLS="0")
    proc = _run(no_private, "ingest", "http://127.0.0.1:9/feed.xml", check=2)
    assert "127.0.0.1" in proc.stderr and "CASTGRAPH_ALLOW_PRIVATE_URLS" in proc.stderr


def _states(db: Path) -> dict[str, str]:
    if not db.exists():
        return {}
    try:
        with sqlite3.connect(db, timeout=10) as conn:
            return dict(conn.execute("select title, state from episodes").fetchall())
    except sqlite3.OperationalError:  # the catalog is being created
        return {}


def test_killed_ingest_resumes_without_duplicates(
    env: dict[str, str], audio_fixtures: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i, name in enumerate(["61-70968-0000", "2412-153948-0000"]):
        shutil.copy(audio_fixtures / "en_librispeech" / f"{name}.flac", folder / f"{i}_{name}.flac")
    shutil.copy(audio_fixtures / "en_jfk" / "jfk.flac", folder / "2_jfk.flac")
    db = Path(env["CASTGRAPH_DATA_DIR"]) / "catalog.db"
    proc = subprocess.Popen(
        [*CLI, "ingest", str(folder), "--quiet"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        states = _states(db)
        if "indexed" in states.values() and any(
            s in ("transcribing", "diarizing") for s in states.values()
        ):
            break
        time.sleep(0.05)
    assert proc.poll() is None, "ingest finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = _states(db)
    assert "indexed" in killed.values() and set(killed.values()) != {"indexed"}

    resumed = _run(env, "ingest", str(folder), "--quiet")
    done = sum(1 for s in killed.values() if s == "indexed")
    assert f"{3 - done} indexed, 0 failed, {done} skipped" in resumed.stderr
    episodes = _episodes(env)
    assert len(episodes) == 3 and {e["state"] for e in episodes} == {"indexed"}
    with sqlite3.connect(db) as conn:
        dupes = conn.execute(
            "select count(*) from (select episode_id, start, text from segments "
            "group by 1, 2, 3 having count(*) > 1)"
        ).fetchone()[0]
    assert dupes == 0
