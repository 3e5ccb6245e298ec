"""Speaker names in the catalog: guesses stored with evidence, renames win, names flow to every
reader, and the voice registry names the same voice in later episodes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from castgraph.api.cli import app
from castgraph.catalog import SqlCatalog
from castgraph.core.models import (
    Chunk,
    Diarization,
    MediaItem,
    Segment,
    SpeakerGuess,
    SpeakerTurn,
    Transcript,
    Word,
)

A, B = "SPEAKER_00", "SPEAKER_01"
VOICES: dict[str, tuple[float, ...]] = {A: (1.0, 0.0, 0.0), B: (0.0, 1.0, 0.0)}


def _episode(catalog: SqlCatalog, n: int, voices: dict[str, tuple[float, ...]] = VOICES) -> str:
    ep = catalog.register(
        MediaItem(source_id=f"t:{n}", url=f"https://example.org/{n}.mp3", title=f"Ep {n}")
    )
    segments = (
        Segment(0.0, 2.0, "Soy Ana Gómez.", A, (Word("Soy", 0.0, 0.5), Word("Ana", 0.6, 1.0))),
        Segment(3.0, 4.0, "Hola.", B, (Word("Hola.", 3.0, 4.0),)),
    )
    turns = (SpeakerTurn(0.0, 2.0, A), SpeakerTurn(3.0, 4.0, B))
    catalog.save_transcript(
        ep.id, Transcript("es", segments, 5.0), Diarization(turns, dict(voices))
    )
    return ep.id


def _guesses(a: float = 0.8, b: float = 0.3) -> list[SpeakerGuess]:
    return [
        SpeakerGuess(A, "Ana Gómez", a, 0.0, 2.0, "Soy Ana Gómez."),
        SpeakerGuess(B, "Beto Ruiz", b, 3.0, 4.0, "Gracias, Beto Ruiz."),
    ]


def _chunk(episode_id: str) -> Chunk:
    return Chunk(
        id=f"{episode_id}-00000",
        episode_id=episode_id,
        ordinal=0,
        start=0.0,
        end=4.0,
        text="Soy Ana Gómez. Hola.",
        speakers=(A, B),
        language="es",
        title="",
        url="",
    )


def test_guesses_are_stored_with_evidence_and_the_threshold_applies(catalog: SqlCatalog) -> None:
    episode_id = _episode(catalog, 1)
    shown = catalog.save_speaker_guesses(episode_id, _guesses())
    assert shown == ["Ana Gómez", B]  # Beto's 0.3 is only a suggestion
    ana, beto = catalog.speakers(episode_id)
    assert (ana.name, ana.confirmed) == ("Ana Gómez", False)
    assert ana.guess is not None and ana.guess.confidence == 0.8
    assert ana.guess is not None and (ana.guess.start, ana.guess.text) == (0.0, "Soy Ana Gómez.")
    assert beto.name == B and beto.guess is not None and beto.guess.name == "Beto Ruiz"
    assert catalog.get(episode_id).speakers == ["Ana Gómez", B]


def test_names_flow_to_segments_and_document_chunks(catalog: SqlCatalog) -> None:
    episode_id = _episode(catalog, 1)
    catalog.save_speaker_guesses(episode_id, _guesses())
    assert [s.speaker for s in catalog.segments(episode_id)] == ["Ana Gómez", B]
    document = catalog.save_analysis(episode_id, [_chunk(episode_id)], [], [])
    assert document.chunks[0].speakers == ("Ana Gómez", B)


def test_a_rename_wins_over_any_guess(catalog: SqlCatalog) -> None:
    episode_id = _episode(catalog, 1)
    catalog.save_speaker_guesses(episode_id, _guesses())
    catalog.rename_speaker(episode_id, "Ana Gómez", "Ana María Gómez")  # by its shown name
    catalog.save_speaker_guesses(episode_id, _guesses(a=0.99))
    ana = catalog.speakers(episode_id)[0]
    assert ana.name == "Ana María Gómez" and ana.confirmed
    assert ana.guess is not None and ana.guess.name == "Ana Gómez"  # kept, not shown


def test_a_guessed_voice_names_later_episodes_but_never_beats_a_rename(
    catalog: SqlCatalog,
) -> None:
    first = _episode(catalog, 1)
    catalog.save_speaker_guesses(first, _guesses())
    assert catalog.voice_names() == ["Ana Gómez"]  # only the confident guess is registered
    second = _episode(catalog, 2)
    ana = catalog.speakers(second)[0]
    assert ana.name == "Ana Gómez" and not ana.confirmed
    assert ana.guess is not None and ana.guess.start is None and first in ana.guess.text
    catalog.rename_speaker(second, A, "Ana G.")
    third = _episode(catalog, 3)
    ana = catalog.speakers(third)[0]
    assert ana.name == "Ana G." and ana.confirmed  # the renamed voice beats the guessed one
    assert catalog.voice_names()[0] == "Ana G."


def test_the_transcript_beats_a_voice_guess_that_disagrees(catalog: SqlCatalog) -> None:
    first = _episode(catalog, 1)
    catalog.save_speaker_guesses(first, _guesses())
    second = _episode(catalog, 2, voices={A: (0.0, 1.0, 0.0), B: (1.0, 0.0, 0.0)})
    assert catalog.get(second).speakers == [A, "Ana Gómez"]
    catalog.save_speaker_guesses(second, [SpeakerGuess(A, "Ana Gómez", 0.9, 0.0, 2.0, "Soy Ana")])
    assert catalog.get(second).speakers == ["Ana Gómez", B]


def test_an_older_catalog_file_gains_the_guess_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE voices (id INTEGER PRIMARY KEY, name TEXT, embedding JSON)")
    catalog = SqlCatalog(f"sqlite:///{path}").open()
    episode_id = _episode(catalog, 1)
    catalog.save_speaker_guesses(episode_id, _guesses())
    assert catalog.speakers(episode_id)[0].name == "Ana Gómez"


def test_cli_speakers_list(
    tmp_path: Path, catalog_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASTGRAPH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CASTGRAPH_DATABASE_URL", catalog_url)
    catalog = SqlCatalog(catalog_url).open()
    episode_id = _episode(catalog, 1)
    catalog.save_speaker_guesses(episode_id, _guesses())
    catalog.close()
    runner = CliRunner()
    result = runner.invoke(app, ["speakers", "list", episode_id, "--json"])
    assert result.exit_code == 0, result.stderr
    ana, beto = json.loads(result.stdout)
    assert ana == {
        "label": A,
        "name": "Ana Gómez",
        "confirmed": False,
        "guess": "Ana Gómez",
        "confidence": 0.8,
        "evidence": {
            "start": 0.0,
            "end": 2.0,
            "text": "Soy Ana Gómez.",
            "link": "https://example.org/1.mp3#t=0",
        },
    }
    assert beto["name"] == B and beto["guess"] == "Beto Ruiz" and beto["confidence"] == 0.3
    text = runner.invoke(app, ["speakers", "list", episode_id[:5]]).stdout
    assert "Ana Gómez" in text and "[00:00] Soy Ana Gómez." in text
    assert "suggestion: Beto Ruiz" in text
    assert runner.invoke(app, ["speakers", "list", "nope"]).exit_code == 1
