"""The SQL catalog: registration, transcripts, speakers and named voices."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest
from sqlalchemy import event

from castgraph.catalog import SqlCatalog, episode_id_for
from castgraph.core.errors import InputError, NotFoundError, StorageError
from castgraph.core.models import (
    Chunk,
    Diarization,
    Entity,
    EpisodeState,
    MediaItem,
    Relation,
    Segment,
    SpeakerTurn,
    Transcript,
    Word,
)


def _item(n: int, published: date | None = None) -> MediaItem:
    return MediaItem(
        source_id=f"test:{n}", url=f"http://x/{n}", title=f"Episode {n}", published=published
    )


def _transcript(*speakers: str) -> Transcript:
    segs = []
    for i, spk in enumerate(speakers):
        words = (
            Word("hola", i * 2.0, i * 2.0 + 0.5, 0.9, spk),
            Word("che", i * 2.0 + 0.6, i * 2.0 + 1),
        )
        segs.append(Segment(i * 2.0, i * 2.0 + 1, "hola che", spk, words))
    return Transcript(language="es", segments=tuple(segs), duration=len(speakers) * 2.0)


def _diarization(embeddings: dict[str, tuple[float, ...]]) -> Diarization:
    turns = tuple(SpeakerTurn(0, 1, label) for label in embeddings)
    return Diarization(turns=turns, embeddings=embeddings)


def test_register_is_idempotent_by_source_id(catalog: SqlCatalog) -> None:
    first = catalog.register(_item(1))
    again = catalog.register(_item(1))
    assert first.id == again.id == episode_id_for("test:1")
    assert first.state is EpisodeState.QUEUED
    assert len(catalog.list_episodes()) == 1


def test_episodes_listed_in_published_order(catalog: SqlCatalog) -> None:
    catalog.register(_item(2, date(2024, 5, 1)))
    catalog.register(_item(1, date(2023, 1, 1)))
    assert [e.title for e in catalog.list_episodes()] == ["Episode 1", "Episode 2"]


def test_save_transcript_replaces_segments(catalog: SqlCatalog) -> None:
    ep = catalog.register(_item(1))
    catalog.save_transcript(ep.id, _transcript("SPEAKER_00", "SPEAKER_01", "SPEAKER_00"), None)
    catalog.save_transcript(ep.id, _transcript("SPEAKER_00", "SPEAKER_01"), None)
    segments = catalog.segments(ep.id)
    assert [s.speaker for s in segments] == ["SPEAKER_00", "SPEAKER_01"]
    assert segments[0].words[0].text == "hola" and segments[0].words[0].probability == 0.9
    episode = catalog.get(ep.id)
    assert episode.language == "es" and episode.speakers == ["SPEAKER_00", "SPEAKER_01"]


def test_state_and_error_are_recorded(catalog: SqlCatalog) -> None:
    ep = catalog.register(_item(1))
    catalog.set_state(ep.id, EpisodeState.FAILED, "failed while downloading: 404")
    got = catalog.get(ep.id)
    assert got.state is EpisodeState.FAILED and got.error == "failed while downloading: 404"
    catalog.set_state(ep.id, EpisodeState.INDEXED)
    assert catalog.get(ep.id).error is None


def test_prefix_lookup_and_unknown_ids(catalog: SqlCatalog) -> None:
    ep = catalog.register(_item(1))
    assert catalog.get(ep.id[:5]).id == ep.id
    assert catalog.get(ep.id[:5].upper()).id == ep.id  # as typed by hand, on every database
    with pytest.raises(NotFoundError, match="castgraph episodes"):
        catalog.get("zzzz")


def test_renamed_voice_is_recognised_in_later_episodes(catalog: SqlCatalog) -> None:
    ana, beto = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0)
    first = catalog.register(_item(1))
    catalog.save_transcript(
        first.id,
        _transcript("SPEAKER_00", "SPEAKER_01"),
        _diarization({"SPEAKER_00": ana, "SPEAKER_01": beto}),
    )
    renamed = catalog.rename_speaker(first.id, "SPEAKER_00", "Ana")
    assert renamed.speakers == ["Ana", "SPEAKER_01"]
    assert catalog.segments(first.id)[0].speaker == "Ana"

    second = catalog.register(_item(2))
    # In the new episode Ana's voice got another label; a near-identical embedding matches.
    names = catalog.save_transcript(
        second.id,
        _transcript("SPEAKER_00", "SPEAKER_01"),
        _diarization({"SPEAKER_00": (0.05, 0.99, 0.0), "SPEAKER_01": (0.99, 0.02, 0.05)}),
    )
    assert names == ["SPEAKER_00", "Ana"]


def test_renaming_again_replaces_the_voice_exemplar(catalog: SqlCatalog) -> None:
    first = catalog.register(_item(1))
    catalog.save_transcript(
        first.id, _transcript("SPEAKER_00"), _diarization({"SPEAKER_00": (1.0, 0.0)})
    )
    catalog.rename_speaker(first.id, "SPEAKER_00", "Ana")
    catalog.rename_speaker(first.id, "Ana", "Ana García")
    second = catalog.register(_item(2))
    names = catalog.save_transcript(
        second.id, _transcript("SPEAKER_00"), _diarization({"SPEAKER_00": (1.0, 0.01)})
    )
    assert names == ["Ana García"]


def test_rename_errors_are_clear(catalog: SqlCatalog) -> None:
    ep = catalog.register(_item(1))
    catalog.save_transcript(ep.id, _transcript("SPEAKER_00"), None)
    with pytest.raises(NotFoundError, match="its speakers are: SPEAKER_00"):
        catalog.rename_speaker(ep.id, "SPEAKER_07", "Ana")
    with pytest.raises(InputError, match="empty"):
        catalog.rename_speaker(ep.id, "SPEAKER_00", "  ")


def test_delete_removes_everything(catalog: SqlCatalog) -> None:
    ep = catalog.register(_item(1))
    catalog.save_transcript(ep.id, _transcript("SPEAKER_00"), _diarization({"SPEAKER_00": (1.0,)}))
    catalog.rename_speaker(ep.id, "SPEAKER_00", "Ana")
    catalog.delete(ep.id)
    assert catalog.list_episodes() == []
    with pytest.raises(NotFoundError):
        catalog.segments(ep.id)


def _chunks(episode_id: str, speakers: tuple[str, ...]) -> list[Chunk]:
    return [
        Chunk(
            f"{episode_id}-{i}",
            episode_id,
            i,
            i * 2.0,
            i * 2.0 + 1,
            "hola che",
            speakers,
            "es",
            "ignored",
            "ignored",
        )
        for i in range(2)
    ]


def test_analysis_is_stored_and_read_back_as_a_document(catalog: SqlCatalog) -> None:
    ep = catalog.register(_item(1, date(2024, 2, 3)))
    catalog.save_transcript(ep.id, _transcript("SPEAKER_00"), None)
    assert catalog.document(ep.id) is None
    chunks = _chunks(ep.id, ("SPEAKER_00",))
    entities = [Entity("José Pérez", "person", ("Pérez",), (chunks[0].id,))]
    relations = [Relation("José Pérez", "Ushuaia", "co_occurs", (chunks[1].id,), 2.0)]
    saved = catalog.save_analysis(ep.id, chunks, entities, relations)
    document = catalog.document(ep.id)
    assert document == saved
    assert document.entities == tuple(entities) and document.relations == tuple(relations)
    first = document.chunks[0]
    assert (first.title, first.url, first.published) == (
        "Episode 1",
        "http://x/1",
        date(2024, 2, 3),
    )
    catalog.save_analysis(ep.id, chunks[:1], [], [])  # replaced, never appended
    again = catalog.document(ep.id)
    assert again is not None and len(again.chunks) == 1 and again.entities == ()


def test_a_constraint_violation_is_a_storage_error_and_changes_nothing(
    catalog: SqlCatalog,
) -> None:
    first, second = catalog.register(_item(1)), catalog.register(_item(2))
    catalog.save_analysis(first.id, _chunks(first.id, ("SPEAKER_00",)), [], [])
    catalog.save_analysis(second.id, _chunks(second.id, ("SPEAKER_00",))[:1], [], [])
    with pytest.raises(StorageError, match="catalog error"):  # chunk ids are unique
        catalog.save_analysis(second.id, _chunks(first.id, ("SPEAKER_00",)), [], [])
    kept = catalog.document(second.id)
    assert kept is not None and [c.id for c in kept.chunks] == [f"{second.id}-0"]


def test_chunks_follow_speaker_renames_and_transcripts_reset_the_analysis(
    catalog: SqlCatalog,
) -> None:
    ep = catalog.register(_item(1))
    catalog.save_transcript(ep.id, _transcript("SPEAKER_00"), None)
    catalog.save_analysis(ep.id, _chunks(ep.id, ("SPEAKER_00",)), [], [])
    catalog.rename_speaker(ep.id, "SPEAKER_00", "Ana")
    document = catalog.document(ep.id)
    assert document is not None and document.chunks[0].speakers == ("Ana",)
    catalog.save_transcript(ep.id, _transcript("SPEAKER_00"), None)
    assert catalog.document(ep.id) is None


def test_episode_ids_by_state(catalog: SqlCatalog) -> None:
    a, b = catalog.register(_item(1)), catalog.register(_item(2))
    catalog.set_state(a.id, EpisodeState.INDEXED)
    assert catalog.episode_ids() == {a.id}
    assert catalog.episode_ids(None) == {a.id, b.id}


def add_listed(catalog: SqlCatalog, n: int, *, speakers: int = 2) -> str:
    published = date(2024, 1, 1 + n % 28) if n % 5 else None  # some without a date: listed last
    item = MediaItem(
        source_id=f"t:{n}", url=f"https://e.org/{n}", title=f"E{n:03}", published=published
    )
    episode = catalog.register(item)
    segments = tuple(Segment(i, i + 1.0, "hola", f"SPEAKER_0{i}") for i in range(speakers))
    catalog.save_transcript(episode.id, Transcript("es", segments, 10.0), None)
    if n % 2:
        catalog.set_state(episode.id, EpisodeState.INDEXED)
    return episode.id


@contextmanager
def sql_statements(catalog: SqlCatalog) -> Iterator[list[str]]:
    """The SQL statements ``catalog`` runs inside the block."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engine = catalog._engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_listing_runs_the_same_few_queries_for_3_or_30_episodes(catalog: SqlCatalog) -> None:
    for n in range(3):
        add_listed(catalog, n)
    with sql_statements(catalog) as few:
        assert len(catalog.list_episodes()) == 3
    for n in range(3, 30):
        add_listed(catalog, n)
    with sql_statements(catalog) as many:
        listed = catalog.list_episodes()
    assert len(listed) == 30 and all(len(e.speakers) == 2 for e in listed)
    assert len(many) == len(few) <= 3, many


def test_pages_follow_the_listing_order(catalog: SqlCatalog) -> None:
    for n in range(23):
        add_listed(catalog, n)
    everything = catalog.list_episodes()
    keys = [(e.published is None, e.published or date.min, e.title) for e in everything]
    assert keys == sorted(keys)  # oldest published first, undated last
    pages = [catalog.list_episodes(limit=5, offset=o) for o in range(0, 25, 5)]
    assert [e.id for page in pages for e in page] == [e.id for e in everything]
    assert catalog.count_episodes() == {"queued": 12, "indexed": 11}
