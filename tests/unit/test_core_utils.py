"""Small core helpers: moment links, clock labels, structured logs, the writer lock."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from castgraph.api.datadir import writer_lock
from castgraph.api.logs import JsonFormatter, KeyValueFormatter
from castgraph.core.errors import DependencyError, LockedError
from castgraph.core.timefmt import clock, moment_link


def test_clock() -> None:
    assert clock(0) == "00:00" and clock(75.9) == "01:15" and clock(3723) == "1:02:03"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.youtube.com/watch?v=abc", "https://www.youtube.com/watch?v=abc&t=123s"),
        ("https://www.youtube.com/watch?v=abc&t=5s", "https://www.youtube.com/watch?v=abc&t=123s"),
        ("https://youtu.be/abc", "https://youtu.be/abc?t=123s"),
        ("http://127.0.0.1:8765/ep1.mp3", "http://127.0.0.1:8765/ep1.mp3#t=123"),
    ],
)
def test_moment_link(url: str, expected: str) -> None:
    assert moment_link(url, 123.7) == expected


def _record() -> logging.LogRecord:
    record = logging.LogRecord(
        "castgraph.x", logging.INFO, __file__, 1, "episode state", None, None
    )
    record.episode_id = "abc"
    record.state = "indexed"
    return record


def test_json_log_lines_carry_fields() -> None:
    line = json.loads(JsonFormatter().format(_record()))
    assert line["event"] == "episode state" and line["episode_id"] == "abc"
    assert line["state"] == "indexed" and line["level"] == "info"


def test_key_value_log_lines() -> None:
    assert 'episode state episode_id="abc" state="indexed"' in KeyValueFormatter().format(_record())


def test_second_writer_is_refused_with_the_holder_named(tmp_path: Path) -> None:
    with (
        writer_lock(tmp_path, "castgraph ingest"),
        pytest.raises(LockedError, match="castgraph ingest"),
        writer_lock(tmp_path, "castgraph speakers rename"),
    ):
        pass
    with writer_lock(tmp_path, "again"):
        pass


def test_dependency_error_names_the_extra() -> None:
    assert "pip install 'castgraph[pyannote]'" in str(DependencyError("pyannote.audio", "pyannote"))


def test_empty_environment_variables_mean_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from castgraph.core.settings import Settings

    monkeypatch.setenv("CASTGRAPH_ALLOW_PRIVATE_URLS", "")
    monkeypatch.setenv("CASTGRAPH_LANGUAGE", "")
    settings = Settings()
    assert settings.allow_private_urls is False and settings.language is None


def test_dependency_error_can_carry_its_own_install_hint() -> None:
    error = DependencyError("espeak-ng", install="apt-get install espeak-ng")
    assert str(error) == "espeak-ng is not installed: apt-get install espeak-ng"


def test_a_reader_holds_a_free_directory_and_a_writer_waits_for_it(tmp_path: Path) -> None:
    import threading

    from castgraph.api.datadir import reader_lock

    released, acquired = threading.Event(), threading.Event()

    def write() -> None:
        with writer_lock(tmp_path, "castgraph ingest"):
            assert released.is_set()  # not before the reader let go
            acquired.set()

    with reader_lock(tmp_path, "castgraph search") as holder:
        assert holder is None  # free: this process may open every store
        with (
            pytest.raises(LockedError, match=r"castgraph search, reading"),
            writer_lock(tmp_path, "castgraph delete", reader_wait=0),
        ):
            pass
        writer = threading.Thread(target=write)
        writer.start()
        assert not acquired.wait(1.0)  # it waits while the reader holds the directory
        released.set()
    writer.join(timeout=30)
    assert acquired.is_set()


def test_a_reader_beside_a_writer_is_told_who_writes(tmp_path: Path) -> None:
    from castgraph.api.datadir import reader_lock

    with writer_lock(tmp_path, "castgraph ingest"), reader_lock(tmp_path, "castgraph ask") as who:
        assert who is not None and "castgraph ingest" in who
        with (  # a writer never waits for a writer
            pytest.raises(LockedError, match="castgraph ingest"),
            writer_lock(tmp_path, "castgraph reindex"),
        ):
            pass
