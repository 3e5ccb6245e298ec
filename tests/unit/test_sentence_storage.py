"""Sentences travel with chunks: chunking, the catalog, the keyword index, upgrades of old files,
and re-analysis of old episodes from the stored transcript (no speech recognition)."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest

from castgraph.catalog import SqlCatalog
from castgraph.core.models import (
    PIPELINE_VERSION,
    Diarization,
    Episode,
    EpisodeState,
    MediaItem,
    Segment,
    Transcript,
    Word,
)
from castgraph.ingest.chunking import chunk_transcript
from castgraph.ingest.pipeline import IngestOptions, IngestPipeline, Stages
from castgraph.retrieval.keyword.sqlite_fts import SqliteKeywordIndex

ITEM = MediaItem(source_id="t:1", url="https://x/1.mp3", title="Uno", published=date(2024, 1, 2))


def _segment(speaker: str, text: str, start: float) -> Segment:
    words = tuple(
        Word(f" {t}", start + i * 0.5, start + (i + 1) * 0.5, 0.9, speaker)
        for i, t in enumerate(text.split())
    )
    return Segment(start, words[-1].end, text, speaker, words)


TRANSCRIPT = Transcript(
    "es",
    (
        _segment("SPEAKER_00", "¿Dónde trabajás? Contanos.", 0.0),
        _segment("SPEAKER_01", "Trabajo en el Observatorio. Empezamos en dos mil diecinueve.", 3.0),
    ),
    10.0,
)


def test_chunks_keep_each_sentence_with_its_own_times_and_speaker() -> None:
    episode = Episode("e1", "t:1", "Uno", "https://x/1.mp3")
    (chunk,) = chunk_transcript(episode, TRANSCRIPT)
    assert [(s.text, s.start, s.end, s.speaker) for s in chunk.sentences] == [
        ("¿Dónde trabajás?", 0.0, 1.0, "SPEAKER_00"),
        ("Contanos.", 1.0, 1.5, "SPEAKER_00"),
        ("Trabajo en el Observatorio.", 3.0, 5.0, "SPEAKER_01"),
        ("Empezamos en dos mil diecinueve.", 5.0, 7.5, "SPEAKER_01"),
    ]


def _stored(catalog: SqlCatalog) -> Episode:
    episode = catalog.register(ITEM)
    catalog.save_transcript(episode.id, TRANSCRIPT, Diarization(()))
    chunks = chunk_transcript(catalog.get(episode.id), TRANSCRIPT)
    catalog.save_analysis(episode.id, chunks, [], [])
    return episode


def test_catalog_stores_sentences_and_names_their_speakers(tmp_path: Path) -> None:
    catalog = SqlCatalog(f"sqlite:///{tmp_path / 'c.db'}").open()
    episode = _stored(catalog)
    catalog.rename_speaker(episode.id, "SPEAKER_01", "Valeria Quiroga")
    document = catalog.document(episode.id)
    assert document is not None
    speakers = [s.speaker for s in document.chunks[0].sentences]
    assert speakers == ["SPEAKER_00", "SPEAKER_00", "Valeria Quiroga", "Valeria Quiroga"]
    assert [s.start for s in catalog.sentences(episode.id)] == [0.0, 1.0, 3.0, 5.0]
    stored = catalog.transcript(episode.id)
    assert stored is not None and stored.segments[1].speaker == "SPEAKER_01"  # labels, not names
    catalog.close()


def test_an_old_catalog_file_gains_the_new_columns_without_losing_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    catalog = SqlCatalog(f"sqlite:///{path}").open()
    episode = _stored(catalog)
    catalog.close()
    with sqlite3.connect(path) as conn:  # what a catalog written before sentences looks like
        conn.execute("ALTER TABLE chunks DROP COLUMN sentences")
        conn.execute("DROP TABLE alembic_version")  # and before schema revisions
    reopened = SqlCatalog(f"sqlite:///{path}").open()
    document = reopened.document(episode.id)
    assert document is not None and document.chunks[0].text.startswith("¿Dónde")
    assert document.chunks[0].sentences == ()  # filled in by the next re-analysis
    reopened.close()


def test_keyword_index_round_trips_sentences_and_upgrades_schema_1(tmp_path: Path) -> None:
    episode = Episode("e1", "t:1", "Uno", "https://x/1.mp3")
    chunks = chunk_transcript(episode, TRANSCRIPT)
    path = tmp_path / "kw.db"
    with SqliteKeywordIndex(path) as index:
        index.add(chunks)
        assert index.get([chunks[0].id])[chunks[0].id].sentences == chunks[0].sentences
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE chunks DROP COLUMN sentences")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema'")
    with SqliteKeywordIndex(path) as index:  # an index written by the previous version
        assert index.get([chunks[0].id])[chunks[0].id].sentences == ()
        assert index.search("observatorio", 5)
        index.replace_episode("e1", chunks)
        assert len(index.get([chunks[0].id])[chunks[0].id].sentences) == 4


class _NoSpeechRecognition:
    def load(self) -> None:
        pass

    def transcribe(self, *args: object, **kwargs: object) -> Transcript:
        raise AssertionError("a pipeline-version bump must not re-run speech recognition")


class _Source:
    def resolve(self, source: str, **kwargs: object) -> list[MediaItem]:
        return [ITEM]

    def details(self, item: MediaItem) -> MediaItem:
        return item

    def fetch(self, *args: object, **kwargs: object) -> Path:
        raise AssertionError("a pipeline-version bump must not download again")


class _Indexer:
    def __init__(self) -> None:
        self.sentences: list[int] = []

    def index(self, document: object) -> None:
        self.sentences.append(sum(len(c.sentences) for c in document.chunks))  # type: ignore[attr-defined]

    def stage(self, document: object, live_build: int) -> None:
        self.index(document)

    def retire(self, document: object) -> None:
        pass

    def delete(self, episode_id: str) -> None:
        pass


@pytest.mark.parametrize("state", [EpisodeState.INDEXED, EpisodeState.INDEXING])
def test_old_pipeline_version_is_rechunked_from_the_stored_transcript(
    tmp_path: Path, state: EpisodeState
) -> None:
    path = tmp_path / "c.db"
    catalog = SqlCatalog(f"sqlite:///{path}").open()
    episode = _stored(catalog)
    catalog.set_state(episode.id, state)
    with sqlite3.connect(path) as conn:  # analysed by pipeline v1: chunks without sentences
        conn.execute("UPDATE episodes SET pipeline_version = '1'")
        conn.execute("UPDATE chunks SET sentences = NULL")
    indexer = _Indexer()
    stages = Stages(
        transcriber=_NoSpeechRecognition(),
        diarizer=None,
        extract_wav=lambda a, b: 0.0,
        is_silent=lambda p: False,
        assign_speakers=lambda t, d: t,
        indexer=indexer,
    )
    pipeline = IngestPipeline(catalog, stages, tmp_path / "media")
    report = pipeline.run([("feed", _Source())], IngestOptions())  # type: ignore[list-item]
    assert report.ok and len(report.indexed) == 1
    assert indexer.sentences == [4]
    assert catalog.get(episode.id).pipeline_version == PIPELINE_VERSION
    assert pipeline.run([("feed", _Source())], IngestOptions()).skipped == 1  # type: ignore[list-item]
    catalog.close()
