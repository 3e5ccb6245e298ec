"""One episode, re-processed: the real catalog, the pipeline with scripted stages, and the indexes
a test gives (fakes in unit tests, the real stores in integration tests).

The first version says ``OLD_TEXT``, a re-process hears ``NEW_TEXT``; both answer ``QUERY``. Each
stage fake can run a hook first, to look at the stores mid-stage, block, or raise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from functools import partial
from pathlib import Path

from castgraph.catalog import SqlCatalog
from castgraph.core.models import (
    Chunk,
    Diarization,
    Entity,
    Episode,
    MediaItem,
    Relation,
    Segment,
    Transcript,
    Word,
    chunk_build,
)
from castgraph.core.ports import Indexer, ProgressCallback
from castgraph.ingest.chunking import ChunkingOptions, chunk_transcript
from castgraph.ingest.pipeline import IngestOptions, IngestPipeline, IngestReport, Stages
from castgraph.retrieval.search import SearchService

OLD_TEXT = "El calor de la isla sube cada verano. La ciudad guarda el calor de noche."
NEW_TEXT = "Los techos verdes bajan el calor urbano. El calor baja con árboles y agua."
QUERY = "calor"
ITEM = MediaItem(
    source_id="t:calor", url="http://x/calor", title="Islas de calor", published=date(2024, 1, 1)
)

Hook = Callable[[], None]


class Source:
    def resolve(self, source: str, **kwargs: object) -> list[MediaItem]:
        return [ITEM]

    def details(self, item: MediaItem) -> MediaItem:
        return item

    def fetch(
        self, item: MediaItem, dest_dir: Path, progress: ProgressCallback | None = None
    ) -> Path:
        path = dest_dir / "media.bin"
        path.write_bytes(b"audio")
        return path


class Transcriber:
    """Says ``text``, after running ``before``."""

    def __init__(self, text: str, before: Hook | None = None) -> None:
        self.text, self.before, self.calls = text, before, 0

    def load(self) -> None:
        pass

    def transcribe(
        self,
        wav_path: Path,
        *,
        language: str | None = None,
        progress: ProgressCallback | None = None,
        hints: Sequence[str] = (),
    ) -> Transcript:
        self.calls += 1
        if self.before is not None:
            self.before()
        words = tuple(Word(w, i * 0.5, i * 0.5 + 0.4) for i, w in enumerate(self.text.split()))
        return Transcript("es", (Segment(0.0, words[-1].end, self.text, None, words),), 20.0)


class Mentions:
    """Finds the entity "Calor" in the chunks that say it, after running ``before``."""

    def __init__(self, before: Hook | None = None) -> None:
        self.before = before

    def extract(self, chunks: Sequence[Chunk]) -> tuple[list[Entity], list[Relation]]:
        if self.before is not None:
            self.before()
        ids = tuple(c.id for c in chunks if QUERY in c.text.lower())
        return [Entity("Calor", "topic", chunk_ids=ids)], []


def _one_speaker(transcript: Transcript, diarization: Diarization | None) -> Transcript:
    segments = tuple(
        Segment(s.start, s.end, s.text, "SPEAKER_00", s.words) for s in transcript.segments
    )
    return Transcript(transcript.language, segments, transcript.duration)


def pipeline(
    catalog: SqlCatalog,
    media: Path,
    indexer: Indexer | None,
    transcriber: Transcriber,
    extractor: Mentions | None = None,
) -> IngestPipeline:
    stages = Stages(
        transcriber=transcriber,
        diarizer=None,
        extract_wav=lambda src, dst: float(dst.write_bytes(b"pcm")),
        is_silent=lambda p: False,
        assign_speakers=_one_speaker,
        chunk=partial(chunk_transcript, options=ChunkingOptions(max_tokens=12, overlap=0)),
        extractor=extractor or Mentions(),
        indexer=indexer,
        name_speakers=None,
    )
    return IngestPipeline(catalog, stages, media)


def ingest(pipe: IngestPipeline, *, force: bool = False) -> IngestReport:
    return pipe.run([("feed", Source())], IngestOptions(force=force))  # type: ignore[list-item]


def episode(catalog: SqlCatalog) -> Episode:
    [found] = catalog.list_episodes()
    return found


def builds_found(search: SearchService) -> list[int]:
    """The builds of the chunks a search for ``QUERY`` returns (one per hit)."""
    return [chunk_build(r.chunk.id) for r in search.search(QUERY, k=20)]


def texts(catalog: SqlCatalog, episode_id: str) -> str:
    """The episode's transcript as the catalog shows it."""
    return " ".join(s.text for s in catalog.segments(episode_id))
