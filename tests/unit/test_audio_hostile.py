"""ffmpeg on hostile "media" (issue 13): local files only, a bounded run, a bounded duration."""

from __future__ import annotations

import os
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from castgraph.core.errors import MediaError
from castgraph.ingest import audio
from castgraph.ingest.audio import extract_wav, ffmpeg_binary, probe_duration
from tests.mediaserver import make_tone
from tests.recorder import recording_server

WAIT = 30.0  # the longest a test waits for a call that must return: a failure, never a hang


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server that records every request it gets."""
    with recording_server(b"\x00" * 188) as served:  # any answer: the point is that nobody asks
        yield served


@pytest.fixture
def ffmpeg_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every command ``audio`` runs, still run for real."""
    calls: list[list[str]] = []
    real = subprocess.run

    def recording(cmd: list[str], *args: Any, **kwargs: Any) -> Any:
        calls.append(list(cmd))
        return real(cmd, *args, **kwargs)

    monkeypatch.setattr(audio.subprocess, "run", recording)
    return calls


def test_a_playlist_disguised_as_media_fetches_nothing(
    tmp_path: Path, listener: tuple[str, list[str]], ffmpeg_calls: list[list[str]]
) -> None:
    url, hits = listener
    playlist = (
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n"
        f"#EXTINF:10.0,\n{url}/segment0.ts\n#EXTINF:10.0,\n{url}/segment1.ts\n#EXT-X-ENDLIST\n"
    )
    src = tmp_path / "episode.mp3"
    src.write_text(playlist)
    with pytest.raises(MediaError, match=r"episode\.mp3 is not a media file ffmpeg can decode"):
        extract_wav(src, tmp_path / "episode.wav")
    assert probe_duration(src) is None
    assert hits == []  # no request reached the server
    assert ffmpeg_calls, "ffmpeg never ran"
    for cmd in ffmpeg_calls:  # whatever this ffmpeg's own defaults are
        assert "-protocol_whitelist" in cmd, cmd
        assert cmd[cmd.index("-protocol_whitelist") + 1] == "file,pipe"
        assert cmd.index("-protocol_whitelist") < cmd.index("-i")
    assert not (tmp_path / "episode.wav").exists()


def _hanging_ffmpeg(tmp_path: Path) -> tuple[Path, Path]:
    """A stand-in for an ffmpeg that never finishes; it writes its pid first."""
    pid_file = tmp_path / "ffmpeg.pid"
    script = tmp_path / "ffmpeg"
    script.write_text(f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 600\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, pid_file


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_hung_ffmpeg_is_killed_after_the_configured_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from castgraph.api import wiring
    from castgraph.core.settings import Settings

    script, pid_file = _hanging_ffmpeg(tmp_path)
    monkeypatch.setattr(audio, "ffmpeg_binary", lambda: str(script))
    monkeypatch.setenv("CASTGRAPH_FFMPEG_TIMEOUT", "1")
    stages = wiring.stages(Settings(data_dir=tmp_path / "data"))
    src = tmp_path / "episode.mp3"
    src.write_bytes(b"\xff\xfb" * 1000)
    outcome: list[BaseException | float] = []

    def decode() -> None:
        try:
            outcome.append(stages.extract_wav(src, tmp_path / "episode.wav"))
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=decode, daemon=True)
    worker.start()
    worker.join(WAIT)
    pid = int(pid_file.read_text()) if pid_file.exists() else None
    try:
        assert outcome, f"extract_wav still waiting for ffmpeg after {WAIT:g} s"
        assert isinstance(outcome[0], MediaError)
        assert "ffmpeg took longer than 1 s" in str(outcome[0])
        assert "CASTGRAPH_FFMPEG_TIMEOUT" in str(outcome[0])
        assert pid is not None and not _alive(pid)  # killed, not left running
        assert not list(tmp_path.glob("episode.wav*"))
    finally:
        if pid is not None and _alive(pid):
            os.kill(pid, 9)


def test_decoding_stops_at_the_duration_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from castgraph.api import wiring
    from castgraph.core.settings import Settings

    src = make_tone(tmp_path / "long.mp3", seconds=4.0, ffmpeg=ffmpeg_binary())
    monkeypatch.setenv("CASTGRAPH_MAX_DURATION_S", "2")
    stages = wiring.stages(Settings(data_dir=tmp_path / "data"))
    with pytest.raises(MediaError, match=r"longer than .*CASTGRAPH_MAX_DURATION_S"):
        stages.extract_wav(src, tmp_path / "long.wav")
    assert not list(tmp_path.glob("long.wav*"))  # nothing left on disk
    assert extract_wav(src, tmp_path / "ok.wav") == pytest.approx(4.0, abs=0.1)  # no cap given
