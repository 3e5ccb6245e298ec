"""The CLI's contract: JSON shapes, exit codes and messages (no models involved)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from castgraph.api.cli import app
from castgraph.catalog import SqlCatalog
from castgraph.core.models import MediaItem, Segment, Transcript, Word

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CASTGRAPH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CASTGRAPH_EMBEDDING_MODEL", "hash")
    return tmp_path


def _seed(data_dir: Path) -> str:
    catalog = SqlCatalog(f"sqlite:///{data_dir / 'catalog.db'}").open()
    ep = catalog.register(
        MediaItem(source_id="t:1", url="https://www.youtube.com/watch?v=abc", title="Uno")
    )
    words = (Word("Hola", 65.0, 65.4), Word("che.", 65.5, 66.0))
    catalog.save_transcript(
        ep.id,
        Transcript("es", (Segment(65.0, 66.0, "Hola che.", "SPEAKER_00", words),), 70.0),
        None,
    )
    catalog.close()
    return ep.id


def test_episodes_json_on_an_empty_data_dir(data_dir: Path) -> None:
    result = runner.invoke(app, ["episodes", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout) == []


def test_episodes_json_shape(data_dir: Path) -> None:
    episode_id = _seed(data_dir)
    [episode] = json.loads(runner.invoke(app, ["episodes", "--json"]).stdout)
    assert {"id", "title", "url", "state", "duration", "language", "speakers", "error"} <= set(
        episode
    )
    assert episode["id"] == episode_id and episode["speakers"] == ["SPEAKER_00"]
    assert episode["language"] == "es" and episode["duration"] == 70.0


def test_episode_show_text_and_json(data_dir: Path) -> None:
    episode_id = _seed(data_dir)
    text = runner.invoke(app, ["episodes", "show", episode_id[:4]]).stdout
    assert "[01:05] SPEAKER_00: Hola che." in text
    segments = json.loads(runner.invoke(app, ["episodes", "show", episode_id, "--json"]).stdout)
    assert segments == [{"start": 65.0, "end": 66.0, "speaker": "SPEAKER_00", "text": "Hola che."}]


def test_unknown_episode_is_a_clear_error(data_dir: Path) -> None:
    result = runner.invoke(app, ["episodes", "show", "nope"])
    assert result.exit_code == 1 and "no episode 'nope'" in result.stderr


def test_speakers_rename(data_dir: Path) -> None:
    episode_id = _seed(data_dir)
    result = runner.invoke(app, ["speakers", "rename", episode_id, "SPEAKER_00", "Ana"])
    assert result.exit_code == 0, result.stderr
    segments = json.loads(runner.invoke(app, ["episodes", "show", episode_id, "--json"]).stdout)
    assert segments[0]["speaker"] == "Ana"
    missing = runner.invoke(app, ["speakers", "rename", episode_id, "SPEAKER_09", "Bo"])
    assert missing.exit_code == 1 and "its speakers are" in missing.stderr


def test_ingest_rejects_bad_options_before_any_work(data_dir: Path) -> None:
    result = runner.invoke(app, ["ingest", str(data_dir), "--since", "yesterday"])
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.stderr
    result = runner.invoke(app, ["ingest", str(data_dir), "--captions", "sometimes"])
    assert result.exit_code == 2 and "never, prefer or only" in result.stderr
    assert not (data_dir / "catalog.db").exists()


def test_untrusted_titles_are_printed_literally(data_dir: Path) -> None:
    catalog = SqlCatalog(f"sqlite:///{data_dir / 'catalog.db'}").open()
    catalog.register(MediaItem(source_id="t:x", url="http://x", title="[/b] [link=x]evil\x1b[2J"))
    catalog.close()
    result = runner.invoke(app, ["episodes"])
    assert result.exit_code == 0, result.stderr
    assert "[/b]" in result.stdout and "[link=x]evil" in result.stdout
    assert "\x1b[2J" not in result.stdout


def test_invalid_settings_are_a_clear_error(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASTGRAPH_DOWNLOAD_TIMEOUT", "abc")
    result = runner.invoke(app, ["episodes"])
    assert result.exit_code == 2 and "CASTGRAPH_DOWNLOAD_TIMEOUT" in result.stderr


def test_unusable_data_dir_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("CASTGRAPH_DATA_DIR", str(blocker / "data"))
    result = runner.invoke(app, ["ingest", str(tmp_path)])
    assert result.exit_code == 1 and "error:" in result.stderr
    assert "Traceback" not in result.stderr
