"""LocalSource: files and folders on disk."""

from __future__ import annotations

import os
import shutil
from datetime import date, datetime
from pathlib import Path

import pytest

from castgraph.core.errors import InputError, SourceError
from castgraph.ingest.audio import ffmpeg_binary
from castgraph.ingest.sources import LocalSource, make_source
from castgraph.ingest.sources.local import content_id
from tests.mediaserver import make_tone


@pytest.fixture(scope="module")
def tone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tone(
        tmp_path_factory.mktemp("tones") / "tone.mp3", seconds=1.0, ffmpeg=ffmpeg_binary()
    )


def _folder(tmp_path: Path, tone: Path) -> Path:
    root = tmp_path / "podcast"
    for rel in ["ep10.mp3", "ep2.mp3", "season 1/ep1.m4a", ".hidden/ep0.mp3", "._ep3.mp3"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tone, root / rel)
        # make each file's content distinct so that their ids differ
        with (root / rel).open("ab") as f:
            f.write(rel.encode())
    (root / "notes.txt").write_text("not media")
    (root / "cover.jpg").write_bytes(b"\xff\xd8")
    return root


def test_folder_lists_media_by_natural_name(tmp_path: Path, tone: Path) -> None:
    root = _folder(tmp_path, tone)
    items = LocalSource().resolve(str(root))
    assert [i.title for i in items] == ["ep2", "ep10", "ep1"]
    assert [Path(i.local_path or "").name for i in items] == ["ep2.mp3", "ep10.mp3", "ep1.m4a"]
    first = items[0]
    assert first.source_id.startswith("file:") and len(first.source_id) == 5 + 32
    assert first.url == (root / "ep2.mp3").resolve().as_uri()
    assert first.origin == str(root)
    assert first.duration == pytest.approx(1.0, abs=0.1)
    assert first.published == date.today()
    assert len({i.source_id for i in items}) == 3


def test_ids_survive_moves_and_renames(tmp_path: Path, tone: Path) -> None:
    src = tmp_path / "a.mp3"
    shutil.copyfile(tone, src)
    before = LocalSource().resolve(str(src))[0].source_id
    moved = tmp_path / "elsewhere" / "renamed.mp3"
    moved.parent.mkdir()
    src.rename(moved)
    assert LocalSource().resolve(str(moved))[0].source_id == before == content_id(moved)


def test_content_id_sees_the_end_of_big_files(tmp_path: Path) -> None:
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    body = os.urandom(3 * 1024 * 1024)
    a.write_bytes(body + b"A")
    b.write_bytes(body + b"B")
    assert content_id(a) != content_id(b)


def test_since_and_limit(tmp_path: Path, tone: Path) -> None:
    root = _folder(tmp_path, tone)
    old = datetime(2020, 5, 1).timestamp()
    os.utime(root / "ep2.mp3", (old, old))
    items = LocalSource().resolve(str(root), since=date(2021, 1, 1))
    assert [i.title for i in items] == ["ep10", "ep1"]
    assert [i.title for i in LocalSource().resolve(str(root), limit=1)] == ["ep2"]


def test_fetch_returns_the_file_itself(tmp_path: Path, tone: Path) -> None:
    src = tmp_path / "x.mp3"
    shutil.copyfile(tone, src)
    item = LocalSource().resolve(str(src))[0]
    calls: list[tuple[float, float]] = []
    dest = tmp_path / "media"
    assert LocalSource().fetch(item, dest, lambda d, t: calls.append((d, t))) == src.resolve()
    assert not dest.exists()
    assert calls == [(float(src.stat().st_size),) * 2]
    src.unlink()
    with pytest.raises(SourceError, match="no longer exists"):
        LocalSource().fetch(item, dest)


def test_unknown_duration_is_none(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp3"
    junk.write_text("not audio")
    (item,) = LocalSource().resolve(str(junk))
    assert item.duration is None
    assert item.title == "junk"


def test_empty_folder_and_missing_path(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("hi")
    with pytest.raises(InputError, match="no media files found in folder"):
        LocalSource().resolve(str(tmp_path))
    with pytest.raises(InputError, match="no such file or folder"):
        LocalSource().resolve(str(tmp_path / "nope"))
    with pytest.raises(InputError, match="no such file or folder"):
        make_source(str(tmp_path / "nope.mp3"), allow_private=False)
