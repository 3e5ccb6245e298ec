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


Wrap = Callable[[object], object] | None
"""Wraps the graph store the indexer writes through (a test's hook)."""


class RealStores:
    """The real keyword index, Chroma (hash embedder) and embedded graph under ``data``, with the
    indexer and the search service the server would build over them."""

    def __init__(self, data: Path, catalog: SqlCatalog, *, graph_wrapper: Wrap = None) -> None:
        from castgraph.api.services import VisibleEpisodes
        from castgraph.retrieval.embeddings.hashing import HashEmbedder
        from castgraph.retrieval.graph.embedded import EmbeddedGraphStore
        from castgraph.retrieval.graph.retriever import GraphRetriever
        from castgraph.retrieval.indexer import StoresIndexer
        from castgraph.retrieval.keyword import SqliteKeywordIndex
        from castgraph.retrieval.vector import ChromaVectorIndex

        embedder = HashEmbedder()
        self.keyword = SqliteKeywordIndex(data / "keyword.sqlite").open()
        self.vector = ChromaVectorIndex(embedder, path=data / "chroma").open()
        self.graph = EmbeddedGraphStore(data / "graph.lbug").open()
        graph = graph_wrapper(self.graph) if graph_wrapper else self.graph
        self.indexer = StoresIndexer(self.keyword, self.vector, graph)
        self.visible = VisibleEpisodes(catalog)  # the server's cache (1 s), not a fresh read
        self.search = SearchService(
            {
                "keyword": self.keyword,
                "vector": self.vector,
                "graph": GraphRetriever(self.graph, embedder=embedder),
            },
            self.keyword,
            visible=self.visible,
            refresh=self.visible.invalidate,
        )

    def builds(self, episode_id: str) -> dict[str, set[int]]:
        """The builds of the episode's entries in each index."""
        return {
            "keyword": {chunk_build(i) for i in self.keyword.chunk_ids(episode_id)},
            "vector": {chunk_build(i) for i in self.vector.chunk_ids(episode_id)},
            "graph": {chunk_build(c.id) for c in self.graph.chunks(episode_id)},
        }

    def close(self) -> None:
        self.graph.close()
        self.vector.close()
        self.keyword.close()


def _block(ready: Path) -> None:
    ready.write_text("ready")
    import time

    time.sleep(3600)  # until the test kills this process


def _killed_child(data: Path, at: str, ready: Path) -> None:
    """Re-process the episode with ``--force`` and block ``at`` a stage (the test kills us)."""
    from castgraph.retrieval.indexer import StoresIndexer

    catalog = SqlCatalog(f"sqlite:///{data / 'c.db'}").open()
    stores = RealStores(data, catalog)

    class Blocking(StoresIndexer):
        def stage(self, document: object, live_build: int) -> None:
            super().stage(document, live_build)  # type: ignore[arg-type]
            _block(ready)

    indexer = Blocking(stores.keyword, stores.vector, stores.graph)
    before = partial(_block, ready) if at == "transcribing" else None
    ingest(pipeline(catalog, data / "media", indexer, Transcriber(NEW_TEXT, before)), force=True)
    raise SystemExit("the re-process finished: it should have blocked")


if __name__ == "__main__":
    import sys

    _killed_child(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
