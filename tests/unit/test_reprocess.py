"""Re-processing beside the live build, with fake indexes, the memory graph and the real catalog.

Each test looks at the stores *during* the re-process (from inside a stage) and after it: the
old version must stay searchable and intact until one swap makes the new one live.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from castgraph.api.schemas import EpisodeOut
from castgraph.api.services import VisibleEpisodes
from castgraph.catalog import SqlCatalog
from castgraph.core.errors import MediaError
from castgraph.core.models import PIPELINE_VERSION, Chunk, EpisodeDocument, chunk_build
from castgraph.retrieval.base import Hit, SearchFilters
from castgraph.retrieval.graph.memory import MemoryGraphStore
from castgraph.retrieval.indexer import StoresIndexer
from castgraph.retrieval.search import SearchService
from tests.browse_corpus import RecordingIndex
from tests.reprocess_world import (
    NEW_TEXT,
    OLD_TEXT,
    Mentions,
    Transcriber,
    builds_found,
    episode,
    ingest,
    pipeline,
    texts,
)


class Substring:
    """A keyword retriever over the recording index: chunks whose text contains the query."""

    def __init__(self, index: RecordingIndex) -> None:
        self.index = index

    def search(self, query: str, k: int, filters: SearchFilters) -> list[Hit]:
        hits = [c.id for c in self.index.chunks.values() if query in c.text.lower()]
        return [Hit(chunk_id=i, score=1.0) for i in sorted(hits)[:k]]


class CrashingIndexer(StoresIndexer):
    """Raises ``error`` after ``method`` did its work (once)."""

    def __init__(self, index: RecordingIndex, graph: MemoryGraphStore, method: str) -> None:
        super().__init__(index, None, graph)
        self.method, self.error = method, KeyboardInterrupt

    def stage(self, document: EpisodeDocument, live_build: int) -> None:
        super().stage(document, live_build)
        self._maybe("stage")

    def retire(self, document: EpisodeDocument) -> None:
        if self.method == "retire":  # killed before the graph or the indexes are touched
            self._maybe("retire")
        super().retire(document)

    def _maybe(self, method: str) -> None:
        if self.method == method:
            self.method = ""
            raise self.error


@dataclass
class World:
    catalog: SqlCatalog
    index: RecordingIndex
    graph: MemoryGraphStore
    indexer: StoresIndexer
    search: SearchService
    media: Path

    def run(
        self,
        transcriber: Transcriber,
        *,
        force: bool = False,
        extractor: Mentions | None = None,
        indexer: StoresIndexer | None = None,
    ) -> list[str]:
        pipe = pipeline(self.catalog, self.media, indexer or self.indexer, transcriber, extractor)
        report = ingest(pipe, force=force)
        return [e.title for e in report.indexed]

    def index_builds(self) -> set[int]:
        return {chunk_build(i) for i in self.index.chunks}

    def graph_builds(self) -> set[int]:
        return {chunk_build(c.id) for c in self.graph.chunks(episode(self.catalog).id)}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    catalog = SqlCatalog(f"sqlite:///{tmp_path / 'c.db'}").open()
    index, graph = RecordingIndex(), MemoryGraphStore()
    search = SearchService(
        {"keyword": Substring(index)}, index, visible=VisibleEpisodes(catalog, ttl=0.0)
    )
    w = World(catalog, index, graph, StoresIndexer(index, None, graph), search, tmp_path / "m")
    assert w.run(Transcriber(OLD_TEXT)) == ["Islas de calor"]
    yield w
    catalog.close()


def _content(document: EpisodeDocument | None) -> object:
    assert document is not None
    return document.chunks, document.entities, document.relations


def _old_version_intact(world: World, document: EpisodeDocument | None) -> None:
    ep = episode(world.catalog)
    assert ep.state.value == "indexed" and ep.build == 0
    assert texts(world.catalog, ep.id) == OLD_TEXT
    assert _content(world.catalog.document(ep.id)) == _content(document)
    found = builds_found(world.search)
    assert found and set(found) == {0}


def test_force_reprocess_builds_beside_and_swaps_at_the_end(world: World) -> None:
    ep = episode(world.catalog)
    before = world.catalog.document(ep.id)
    seen: list[str | None] = []

    def during() -> None:  # inside the transcriber, and again inside the extractor
        _old_version_intact(world, before)
        seen.append(episode(world.catalog).reprocessing)
        seen.append(EpisodeOut.of(episode(world.catalog)).reprocessing)

    assert world.run(Transcriber(NEW_TEXT, during), force=True, extractor=Mentions(during))
    assert seen == ["transcribing", "transcribing", "indexing", "indexing"]
    ep = episode(world.catalog)
    assert (ep.build, ep.reprocessing, ep.retired_build) == (1, None, None)
    assert ep.state.value == "indexed"
    assert texts(world.catalog, ep.id) == NEW_TEXT
    assert set(builds_found(world.search)) == {1}
    assert world.index_builds() == {1} and world.graph_builds() == {1}
    document = world.catalog.document(ep.id)
    assert document is not None and all(c.id.endswith("-b1") for c in document.chunks)
    assert document.entities[0].chunk_ids and document.entities[0].chunk_ids[0].endswith("-b1")


@pytest.mark.parametrize("where", ["transcriber", "extractor", "after staging"])
def test_a_failed_reprocess_keeps_the_old_version_and_the_next_run_finishes_it(
    world: World, where: str
) -> None:
    def fail() -> None:
        raise MediaError("the decoder gave up")

    ep = episode(world.catalog)
    before = world.catalog.document(ep.id)
    transcriber = Transcriber(NEW_TEXT, fail if where == "transcriber" else None)
    extractor = Mentions(fail if where == "extractor" else None)
    indexer = CrashingIndexer(world.index, world.graph, "stage")
    indexer.error = MediaError  # type: ignore[assignment]
    used = indexer if where == "after staging" else None
    assert world.run(transcriber, force=True, extractor=extractor, indexer=used) == []
    _old_version_intact(world, before)
    failed = episode(world.catalog)
    assert failed.reprocessing is None and failed.error is None
    stage = "transcribing" if where == "transcriber" else "indexing"
    assert failed.reprocess_error and f"re-process failed while {stage}" in failed.reprocess_error
    assert world.graph_builds() == {0}
    # The next run (no --force) retries and finishes it; the error goes.
    assert world.run(Transcriber(NEW_TEXT)) == ["Islas de calor"]
    done = episode(world.catalog)
    assert (done.build, done.reprocess_error) == (1, None)
    assert set(builds_found(world.search)) == {1} and world.index_builds() == {1}


def test_a_killed_reprocess_is_finished_by_the_next_run(world: World) -> None:
    ep = episode(world.catalog)
    before = world.catalog.document(ep.id)

    def killed() -> None:
        raise KeyboardInterrupt  # stands in for a process killed mid-stage

    with pytest.raises(KeyboardInterrupt):
        world.run(Transcriber(NEW_TEXT, killed), force=True)
    _old_version_intact(world, before)
    assert episode(world.catalog).reprocessing == "transcribing"
    assert world.run(Transcriber(NEW_TEXT)) == ["Islas de calor"]
    assert episode(world.catalog).build == 1 and world.index_builds() == {1}


def test_killed_after_staging_leaves_only_invisible_entries(world: World) -> None:
    ep = episode(world.catalog)
    before = world.catalog.document(ep.id)
    with pytest.raises(KeyboardInterrupt):
        world.run(
            Transcriber(NEW_TEXT),
            force=True,
            indexer=CrashingIndexer(world.index, world.graph, "stage"),
        )
    assert world.index_builds() == {0, 1}  # the new build's entries are there, not shown
    _old_version_intact(world, before)
    assert world.run(Transcriber(NEW_TEXT)) == ["Islas de calor"]
    assert world.index_builds() == {1} and set(builds_found(world.search)) == {1}


def test_cut_short_after_the_swap_the_next_run_only_cleans_up(world: World) -> None:
    with pytest.raises(KeyboardInterrupt):
        world.run(
            Transcriber(NEW_TEXT),
            force=True,
            indexer=CrashingIndexer(world.index, world.graph, "retire"),
        )
    ep = episode(world.catalog)
    assert (ep.build, ep.retired_build, ep.state.value) == (1, 0, "indexed")
    assert world.index_builds() == {0, 1} and world.graph_builds() == {0}
    assert set(builds_found(world.search)) == {1}  # the leftovers are invisible
    idle = Transcriber(NEW_TEXT)
    assert world.run(idle) == ["Islas de calor"]
    assert idle.calls == 0
    assert episode(world.catalog).retired_build is None
    assert world.index_builds() == {1} and world.graph_builds() == {1}


def test_a_version_bump_rederives_beside_the_live_build_without_asr(
    world: World, tmp_path: Path
) -> None:
    with sqlite3.connect(tmp_path / "c.db") as conn:
        conn.execute("UPDATE episodes SET pipeline_version = '1'")
    ep = episode(world.catalog)
    before = world.catalog.document(ep.id)

    def during() -> None:
        _old_version_intact(world, before)
        assert episode(world.catalog).reprocessing == "indexing"

    idle = Transcriber(NEW_TEXT)
    assert world.run(idle, extractor=Mentions(during)) == ["Islas de calor"]
    assert idle.calls == 0
    done = episode(world.catalog)
    assert (done.build, done.pipeline_version) == (1, PIPELINE_VERSION)
    assert texts(world.catalog, ep.id) == OLD_TEXT  # same words, re-derived
    assert set(builds_found(world.search)) == {1} and world.graph_builds() == {1}


def test_a_rename_during_a_reanalysis_survives_the_swap(world: World, tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "c.db") as conn:
        conn.execute("UPDATE episodes SET pipeline_version = '1'")
    ep = episode(world.catalog)

    def rename() -> None:
        world.catalog.rename_speaker(ep.id, "SPEAKER_00", "Ana García")

    assert world.run(Transcriber(NEW_TEXT), extractor=Mentions(rename))
    assert episode(world.catalog).speakers == ["Ana García"]
    assert {s for c in world.index.chunks.values() for s in c.speakers} == {"Ana García"}


def test_a_catalog_from_before_builds_is_upgraded_and_stays_searchable(
    world: World, tmp_path: Path
) -> None:
    world.catalog.close()
    with sqlite3.connect(tmp_path / "c.db") as conn:
        conn.execute("DROP TABLE episode_builds")
        for column in ("build", "retired_build", "reprocess_error"):
            conn.execute(f"ALTER TABLE episodes DROP COLUMN {column}")
        conn.execute("UPDATE alembic_version SET version_num = '0002'")  # the revision before
    world.catalog.open()
    ep = episode(world.catalog)
    assert world.catalog.live_builds() == {ep.id: 0} and ep.build == 0
    assert set(builds_found(world.search)) == {0}
    assert world.run(Transcriber(NEW_TEXT), force=True) == ["Islas de calor"]
    assert set(builds_found(world.search)) == {1}


def _chunk(chunk_id: str, episode_id: str = "ep1") -> Chunk:
    return Chunk(chunk_id, episode_id, 0, 0.0, 1.0, "calor", (), "es", "t", "u")


class Lookup:
    def __init__(self, chunks: Sequence[Chunk]) -> None:
        self.chunks = {c.id: c for c in chunks}

    def get(self, ids: Sequence[str]) -> dict[str, Chunk]:
        return {i: self.chunks[i] for i in ids if i in self.chunks}


class Fixed:
    def __init__(self, ids: Sequence[str]) -> None:
        self.ids = ids

    def search(self, query: str, k: int, filters: SearchFilters) -> list[Hit]:
        return [Hit(i, 1.0) for i in self.ids]


def test_search_keeps_to_the_live_build_and_refreshes_a_stale_map() -> None:
    both = [_chunk("ep1-00000-v2"), _chunk("ep1-00000-v2-b1"), _chunk("ep2-00000-v2-b3", "ep2")]
    live = {"ep1": 0, "ep2": 3}
    search = SearchService({"k": Fixed([c.id for c in both])}, Lookup(both), visible=lambda: live)
    assert [r.chunk.id for r in search.search("calor")] == ["ep1-00000-v2", "ep2-00000-v2-b3"]
    # The old build is gone and the cached map still names it: one refresh finds the new one.
    maps = [{"ep1": 0}, {"ep1": 1}]
    refreshed: list[bool] = []
    only_new = [_chunk("ep1-00000-v2-b1")]
    stale = SearchService(
        {"k": Fixed(["ep1-00000-v2-b1"])},
        Lookup(only_new),
        visible=lambda: maps[len(refreshed)],
        refresh=lambda: refreshed.append(True),
    )
    assert [r.chunk.id for r in stale.search("calor")] == ["ep1-00000-v2-b1"]
    assert refreshed == [True]


def test_search_tries_again_when_ranked_chunks_vanish_before_their_lookup() -> None:
    old, new = _chunk("ep1-00000-v2"), _chunk("ep1-00000-v2-b1")
    lookups = [Lookup([new]), Lookup([new])]  # the old build went between ranking and lookup
    rankings = [Fixed([old.id]), Fixed([new.id])]
    calls: list[int] = []

    class Changing:
        def search(self, query: str, k: int, filters: SearchFilters) -> list[Hit]:
            calls.append(1)
            return rankings[len(calls) - 1].search(query, k, filters)

    search = SearchService({"k": Changing()}, lookups[0], visible=lambda: {"ep1": 1})
    assert [r.chunk.id for r in search.search("calor")] == [new.id]
    assert len(calls) == 2
