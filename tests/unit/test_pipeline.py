"""The ingestion pipeline with fakes behind every port and the real SQL catalog."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest

from castgraph.catalog import SqlCatalog
from castgraph.core.errors import MediaError, SourceError
from castgraph.core.models import (
    Chunk,
    Diarization,
    Entity,
    Episode,
    EpisodeDocument,
    EpisodeState,
    MediaItem,
    Relation,
    Segment,
    SpeakerTurn,
    Transcript,
    Word,
)
from castgraph.core.ports import ProgressCallback
from castgraph.ingest.pipeline import IngestOptions, IngestPipeline, Stages


class FakeSource:
    def __init__(self, items: list[MediaItem], broken: set[str] | None = None) -> None:
        self.items = items
        self.broken = broken or set()
        self.fetched: list[str] = []

    def resolve(
        self, source: str, *, limit: int | None = None, since: date | None = None
    ) -> list[MediaItem]:
        if source == "bad-feed":
            raise SourceError("feed not found (HTTP 404)")
        return [i for i in self.items if since is None or (i.published and i.published >= since)]

    def details(self, item: MediaItem) -> MediaItem:
        return item

    def fetch(
        self, item: MediaItem, dest_dir: Path, progress: ProgressCallback | None = None
    ) -> Path:
        if item.source_id in self.broken:
            raise SourceError("private video: sign-in required")
        self.fetched.append(item.source_id)
        path = dest_dir / "media.bin"
        path.write_bytes(item.title.encode())
        if progress:
            progress(1, 1)
        return path


class FakeTranscriber:
    def __init__(self, crash_on: str | None = None) -> None:
        self.loads = 0
        self.crash_on = crash_on
        self.hints: list[Sequence[str]] = []

    def load(self) -> None:
        self.loads += 1

    def transcribe(
        self,
        wav_path: Path,
        *,
        language: str | None = None,
        progress: ProgressCallback | None = None,
        hints: Sequence[str] = (),
    ) -> Transcript:
        self.hints.append(hints)
        text = wav_path.read_text()
        if text == self.crash_on:
            raise KeyboardInterrupt  # stands in for a process killed mid-stage
        if text == "silent-ish":
            return Transcript(language="en", segments=(), duration=3.0)
        words = (Word("hello", 0.0, 0.5), Word("world", 2.0, 2.5))
        return Transcript(
            language=language or "en",
            duration=3.0,
            segments=(Segment(0.0, 2.5, "hello world", None, words),),
        )


class FakeDiarizer:
    def load(self) -> None:
        pass

    def diarize(self, wav_path: Path, *, num_speakers: int | None = None) -> Diarization:
        return Diarization(
            turns=(SpeakerTurn(0.0, 1.0, "SPEAKER_00"), SpeakerTurn(1.5, 3.0, "SPEAKER_01")),
            embeddings={"SPEAKER_00": (1.0, 0.0), "SPEAKER_01": (0.0, 1.0)},
        )


def _extract(src: Path, dst: Path) -> float:
    data = src.read_text()
    if data == "not media":
        raise MediaError(f"{src.name} is not a media file ffmpeg can decode")
    dst.write_text(data)
    return 3.0


def _assign(transcript: Transcript, diarization: Diarization | None) -> Transcript:
    turns = diarization.turns if diarization else ()
    segs = []
    for w in transcript.words:
        spk = next((t.speaker for t in turns if t.start <= w.start < t.end), None)
        segs.append(Segment(w.start, w.end, w.text, spk, (w,)))
    return Transcript(transcript.language, tuple(segs), transcript.duration)


def _items(*titles: str) -> list[MediaItem]:
    return [
        MediaItem(source_id=f"t:{t}", url=f"http://x/{t}", title=t, published=date(2024, 1, i + 1))
        for i, t in enumerate(titles)
    ]


@pytest.fixture
def catalog(tmp_path: Path) -> SqlCatalog:
    return SqlCatalog(f"sqlite:///{tmp_path / 'c.db'}").open()


class FakeIndexer:
    """Records documents; optionally raises on one title to simulate a crash mid-indexing."""

    def __init__(self, crash_on: str | None = None) -> None:
        self.documents: list[EpisodeDocument] = []
        self.crash_on = crash_on

    def index(self, document: EpisodeDocument) -> None:
        if document.episode.title == self.crash_on:
            raise KeyboardInterrupt
        self.documents.append(document)

    def delete(self, episode_id: str) -> None:
        self.documents = [d for d in self.documents if d.episode.id != episode_id]


class FakeExtractor:
    def extract(self, chunks: Sequence[Chunk]) -> tuple[list[Entity], list[Relation]]:
        ids = tuple(c.id for c in chunks)
        return [Entity("Ana", "person", chunk_ids=ids)], []


def _pipeline(
    catalog: SqlCatalog,
    tmp_path: Path,
    transcriber: FakeTranscriber | None = None,
    indexer: FakeIndexer | None = None,
) -> IngestPipeline:
    stages = Stages(
        transcriber=transcriber or FakeTranscriber(),
        diarizer=FakeDiarizer(),
        extract_wav=_extract,
        is_silent=lambda p: p.read_text() == "silence",
        assign_speakers=_assign,
        extractor=FakeExtractor(),
        indexer=indexer,
    )
    return IngestPipeline(catalog, stages, tmp_path / "media")


def test_ingests_items_with_speakers(catalog: SqlCatalog, tmp_path: Path) -> None:
    source = FakeSource(_items("one", "two"))
    report = _pipeline(catalog, tmp_path).run([("feed", source)], IngestOptions())
    assert report.ok and [e.title for e in report.indexed] == ["one", "two"]
    ep = catalog.list_episodes()[0]
    assert ep.state is EpisodeState.INDEXED and ep.speakers == ["SPEAKER_00", "SPEAKER_01"]
    assert [s.speaker for s in catalog.segments(ep.id)] == ["SPEAKER_00", "SPEAKER_01"]
    assert not (tmp_path / "media" / ep.id / "audio.wav").exists()
    # The download is kept: /media/{id} plays it after the source (e.g. the demo's) is gone.
    assert (tmp_path / "media" / ep.id / "media.bin").read_bytes() == b"one"


def test_rerun_skips_done_items_and_force_redoes_them(catalog: SqlCatalog, tmp_path: Path) -> None:
    source = FakeSource(_items("one"))
    _pipeline(catalog, tmp_path).run([("feed", source)], IngestOptions())
    source.items = _items("one", "two")
    report = _pipeline(catalog, tmp_path).run([("feed", source)], IngestOptions())
    assert report.skipped == 1 and [e.title for e in report.indexed] == ["two"]
    forced = _pipeline(catalog, tmp_path).run([("feed", source)], IngestOptions(force=True))
    assert len(forced.indexed) == 2
    assert sum(len(catalog.segments(e.id)) for e in catalog.list_episodes()) == 4


def test_bad_items_are_recorded_and_the_rest_continue(catalog: SqlCatalog, tmp_path: Path) -> None:
    items = _items("private", "not media", "silence", "silent-ish", "good")
    report = _pipeline(catalog, tmp_path).run(
        [("feed", FakeSource(items, broken={"t:private"})), ("bad-feed", FakeSource([]))],
        IngestOptions(),
    )
    assert not report.ok
    assert report.source_errors == [("bad-feed", "feed not found (HTTP 404)")]
    errors = {e.title: e.error for e in catalog.list_episodes()}
    assert errors == {
        "private": "failed while downloading: private video: sign-in required",
        "not media": "failed while downloading: media.bin is not a media file ffmpeg can decode",
        "silence": "failed while downloading: no speech found in 'silence': the audio is silent",
        "silent-ish": "failed while transcribing: no speech recognised in 'silent-ish'",
        "good": None,
    }
    assert [e.title for e in report.indexed] == ["good"]


def test_limit_and_since(catalog: SqlCatalog, tmp_path: Path) -> None:
    source = FakeSource(_items("a", "b", "c"))
    report = _pipeline(catalog, tmp_path).run(
        [("feed", source)], IngestOptions(limit=1, since=date(2024, 1, 2))
    )
    assert [e.title for e in report.indexed] == ["b"] and report.skipped == 1


def test_models_load_once_and_not_for_finished_work(catalog: SqlCatalog, tmp_path: Path) -> None:
    transcriber = FakeTranscriber()
    pipeline = _pipeline(catalog, tmp_path, transcriber)
    pipeline.run([("feed", FakeSource(_items("a", "b")))], IngestOptions())
    assert transcriber.loads == 1
    idle = FakeTranscriber()
    _pipeline(catalog, tmp_path, idle).run(
        [("feed", FakeSource(_items("a", "b")))], IngestOptions()
    )
    assert idle.loads == 0


def test_interrupted_episode_is_finished_by_the_next_run(
    catalog: SqlCatalog, tmp_path: Path
) -> None:
    source = FakeSource(_items("a", "b"))
    with pytest.raises(KeyboardInterrupt):
        _pipeline(catalog, tmp_path, FakeTranscriber(crash_on="b")).run(
            [("feed", source)], IngestOptions()
        )
    states = {e.title: e.state for e in catalog.list_episodes()}
    assert states == {"a": EpisodeState.INDEXED, "b": EpisodeState.TRANSCRIBING}
    report = _pipeline(catalog, tmp_path).run([("feed", source)], IngestOptions())
    assert [e.title for e in report.indexed] == ["b"] and report.skipped == 1
    episodes: list[Episode] = catalog.list_episodes()
    assert [e.state for e in episodes] == [EpisodeState.INDEXED] * 2
    assert [len(catalog.segments(e.id)) for e in episodes] == [2, 2]


def test_captions_only_skips_audio(catalog: SqlCatalog, tmp_path: Path) -> None:
    captions = Transcript(
        language="es",
        source="captions",
        duration=2.0,
        segments=(Segment(0.0, 2.0, "hola", None, (Word("hola", 0.0, 2.0),)),),
    )
    item = MediaItem(
        source_id="t:c", url="http://x/c", title="c", captions={"es": "http://x/c.vtt"}
    )
    stages = Stages(
        transcriber=FakeTranscriber(),
        diarizer=FakeDiarizer(),
        extract_wav=_extract,
        is_silent=lambda p: False,
        assign_speakers=_assign,
        load_captions=lambda i, lang: captions if i.captions else None,
    )
    source = FakeSource([item, MediaItem(source_id="t:n", url="http://x/n", title="n")])
    report = IngestPipeline(catalog, stages, tmp_path).run(
        [("feed", source)], IngestOptions(captions="only")
    )
    assert [e.title for e in report.indexed] == ["c"] and source.fetched == []
    assert "has no human-made captions" in (report.failed[0].error or "")


def test_unusable_captions_fall_back_to_asr_in_prefer_mode(
    catalog: SqlCatalog, tmp_path: Path
) -> None:
    def broken_captions(item: MediaItem, language: str | None) -> Transcript | None:
        raise SourceError("captions: HTTP 404")

    stages = Stages(
        transcriber=FakeTranscriber(),
        diarizer=FakeDiarizer(),
        extract_wav=_extract,
        is_silent=lambda p: False,
        assign_speakers=_assign,
        load_captions=broken_captions,
    )
    item = MediaItem(source_id="t:c", url="http://x/c", title="c", captions={"es": "http://x/c"})
    pipeline = IngestPipeline(catalog, stages, tmp_path)
    prefer = pipeline.run([("feed", FakeSource([item]))], IngestOptions(captions="prefer"))
    assert [e.title for e in prefer.indexed] == ["c"]
    only = pipeline.run([("feed", FakeSource([item]))], IngestOptions(captions="only", force=True))
    # a searchable episode keeps its version: the failed re-process is recorded beside it
    assert "HTTP 404" in (only.failed[0].reprocess_error or "")
    assert catalog.get(only.failed[0].id).state is EpisodeState.INDEXED


def test_a_source_that_crashes_does_not_stop_the_others(
    catalog: SqlCatalog, tmp_path: Path
) -> None:
    class Crashing(FakeSource):
        def resolve(
            self, source: str, *, limit: int | None = None, since: date | None = None
        ) -> list[MediaItem]:
            raise PermissionError("folder not readable")

    report = _pipeline(catalog, tmp_path).run(
        [("locked", Crashing([])), ("feed", FakeSource(_items("one")))], IngestOptions()
    )
    assert [e.title for e in report.indexed] == ["one"]
    assert report.source_errors[0][0] == "locked" and "not readable" in report.source_errors[0][1]


def test_episodes_are_chunked_extracted_and_indexed(catalog: SqlCatalog, tmp_path: Path) -> None:
    indexer = FakeIndexer()
    report = _pipeline(catalog, tmp_path, indexer=indexer).run(
        [("feed", FakeSource(_items("one")))], IngestOptions()
    )
    assert report.ok
    (document,) = indexer.documents
    assert document.episode.title == "one" and document.episode.published == date(2024, 1, 1)
    assert document.chunks and all(c.episode_id == document.episode.id for c in document.chunks)
    assert document.entities[0].name == "Ana"
    stored = catalog.document(document.episode.id)
    assert stored is not None and stored.chunks == document.chunks


def test_interrupted_indexing_is_finished_without_redoing_the_transcript(
    catalog: SqlCatalog, tmp_path: Path
) -> None:
    source = FakeSource(_items("a"))
    with pytest.raises(KeyboardInterrupt):
        _pipeline(catalog, tmp_path, indexer=FakeIndexer(crash_on="a")).run(
            [("feed", source)], IngestOptions()
        )
    assert catalog.list_episodes()[0].state is EpisodeState.INDEXING
    idle, indexer = FakeTranscriber(), FakeIndexer()
    report = _pipeline(catalog, tmp_path, idle, indexer).run([("feed", source)], IngestOptions())
    assert [e.state for e in report.indexed] == [EpisodeState.INDEXED]
    assert idle.loads == 0 and len(indexer.documents) == 1


class IntroTranscriber(FakeTranscriber):
    """Two speakers who name each other: the host misheard ("Kiroga")."""

    def transcribe(
        self,
        wav_path: Path,
        *,
        language: str | None = None,
        progress: ProgressCallback | None = None,
        hints: Sequence[str] = (),
    ) -> Transcript:
        self.hints.append(hints)
        text = "Soy Ana Gómez. Nuestra invitada es Valeria Kiroga. Hola, Ana."
        # the host's two sentences, a pause, then the guest (the fake diarizer's turns)
        times = [0.1 * i if i < 8 else 1.6 + 0.1 * i for i in range(len(text.split()))]
        words = tuple(Word(w, t, t + 0.05) for w, t in zip(text.split(), times, strict=True))
        return Transcript("es", duration=3.0, segments=(Segment(0.0, 2.9, text, None, words),))


def test_speakers_are_named_from_the_transcript_and_the_metadata(
    catalog: SqlCatalog, tmp_path: Path
) -> None:
    item = MediaItem(
        source_id="t:intro",
        url="http://x/intro",
        title="Calor",
        description="Con la climatóloga Valeria Quiroga.",
    )
    transcriber, indexer = IntroTranscriber(), FakeIndexer()
    report = _pipeline(catalog, tmp_path, transcriber, indexer).run(
        [("feed", FakeSource([item]))], IngestOptions()
    )
    assert report.ok
    assert transcriber.hints == [["Valeria Quiroga"]]
    [episode] = catalog.list_episodes()
    assert episode.speakers == ["Ana Gómez", "Valeria Quiroga"]
    speakers = catalog.speakers(episode.id)
    assert [s.guess.text if s.guess else "" for s in speakers] == [
        "Soy Ana Gómez.",
        "Nuestra invitada es Valeria Kiroga.",
    ]
    [document] = indexer.documents
    assert {s for c in document.chunks for s in c.speakers} == {"Ana Gómez", "Valeria Quiroga"}
    # the names joined the voice registry: the next episode's Whisper hears them as hints
    assert sorted(catalog.voice_names()) == ["Ana Gómez", "Valeria Quiroga"]
