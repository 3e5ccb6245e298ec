"""A failed episode's files: the WAV always goes, downloads stay only for a retry."""

from __future__ import annotations

from pathlib import Path

import pytest

from castgraph.ingest.leftovers import after_failure


def _workdir(tmp_path: Path) -> Path:
    workdir = tmp_path / "media" / "abc123"
    workdir.mkdir(parents=True)
    (workdir / "generic_x.mp3").write_bytes(b"media")
    (workdir / "generic_y.mp3.part").write_bytes(b"half")
    (workdir / "audio.wav").write_bytes(b"wav")
    (workdir / "audio.wav.tmp").write_bytes(b"wav")
    return workdir


@pytest.mark.parametrize(
    "error",
    [
        "failed while downloading: x.mp3 has no audio track: give a file with sound",
        "failed while downloading: no speech found in 'x': the audio is silent",
        "refused: it lasts 10:00:00, longer than the limit (CASTGRAPH_MAX_DURATION_S)",
        "failed while transcribing: unexpected RuntimeError: boom",
        None,
    ],
)
def test_permanent_failures_leave_nothing(tmp_path: Path, error: str | None) -> None:
    workdir = _workdir(tmp_path)
    after_failure(workdir, error)
    assert not workdir.exists()


@pytest.mark.parametrize(
    "error",
    [
        "failed while downloading: network error: could not reach the server",
        "failed while downloading: the server failed (HTTP 5xx): try again later",
        "rate limited (HTTP 429): wait a while and try again",
        "cancelled",
    ],
)
def test_retried_failures_keep_the_downloads_but_not_the_wav(tmp_path: Path, error: str) -> None:
    workdir = _workdir(tmp_path)
    after_failure(workdir, error)
    assert sorted(p.name for p in workdir.iterdir()) == ["generic_x.mp3", "generic_y.mp3.part"]


def test_a_symlinked_folder_is_unlinked_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "users-files"
    outside.mkdir()
    (outside / "keep.mp3").write_bytes(b"mine")
    (outside / "audio.wav").write_bytes(b"mine too")
    (tmp_path / "media").mkdir()
    link = tmp_path / "media" / "abc123"
    link.symlink_to(outside, target_is_directory=True)
    after_failure(link, "x has no audio track")
    assert not link.exists() and (outside / "keep.mp3").read_bytes() == b"mine"
    assert (outside / "audio.wav").read_bytes() == b"mine too"
    link.symlink_to(outside, target_is_directory=True)
    after_failure(link, "network error: could not reach the server")
    assert link.is_symlink() and (outside / "audio.wav").exists()


def test_nothing_there_is_fine(tmp_path: Path) -> None:
    after_failure(tmp_path / "never-made", "x has no audio track")
