"""``CASTGRAPH_VECTOR_BACKEND=flat`` in the wired services: over the real stores it ranks as
Chroma does on a small corpus (both exact there), the server reads its matrix ahead of the
first search or searches it in worker processes, and a read-only process beside the writer
searches vectors too (Chroma cannot)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from castgraph.api import _indexes, wiring
from castgraph.core.settings import Settings
from castgraph.retrieval.base import SearchFilters
from castgraph.retrieval.processes import RemoteRetriever
from castgraph.retrieval.vector.flat import FlatVectorIndex
from tests import corpus

pytestmark = pytest.mark.integration


def _settings(tmp_path: Path, backend: str, **changes: object) -> Settings:
    return Settings(
        data_dir=tmp_path / backend,
        embedding_model="hash",
        vector_backend=backend,  # type: ignore[arg-type]
        **changes,  # type: ignore[arg-type]
    )


def _vector_ranking(settings: Settings, **opening: bool) -> dict[str, list[tuple[str, float]]]:
    services = wiring.open_services(settings, **opening)
    try:
        vector = services.search._retrievers["vector"]
        return {
            q: [(h.chunk_id, h.score) for h in vector.search(q, 8, SearchFilters())]
            for q in corpus.QUERIES
        }
    finally:
        services.close()


def test_flat_ranks_as_chroma_on_the_same_corpus(tmp_path: Path) -> None:
    rankings = {}
    for backend in ("chroma", "flat"):
        services = wiring.open_services(_settings(tmp_path, backend))
        try:
            corpus.load(services)
        finally:
            services.close()
        rankings[backend] = _vector_ranking(_settings(tmp_path, backend))
    for query in corpus.QUERIES:
        flat, chroma = rankings["flat"][query], rankings["chroma"][query]
        assert [i for i, _ in flat] == [i for i, _ in chroma], query
        assert [s for _, s in flat] == pytest.approx([s for _, s in chroma], abs=1e-4)
    assert any(rankings["flat"].values())


def test_the_server_reads_the_matrix_ahead_and_searches_it(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "flat")  # no worker processes: vectors searched here
    loading = wiring.open_services(settings)
    corpus.load(loading)
    loading.close()
    served = wiring.open_services(settings, search_workers=True)  # as castgraph serve starts
    try:
        vector = served.search._retrievers["vector"]
        assert isinstance(vector, FlatVectorIndex)
        deadline = time.monotonic() + 20
        while not len(vector._matrix):
            assert time.monotonic() < deadline, "no search ran, yet the matrix should be read"
            time.sleep(0.05)
        results = served.search.search("pan de Tandil", 5)
        assert results and "vector" in results[0].signals
        served.health["vector"]()
    finally:
        served.close()


def test_worker_processes_search_the_flat_index_and_follow_writes(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "flat", search_processes=1)
    served = wiring.open_services(settings, search_workers=True)
    try:
        vector = served.search._retrievers["vector"]
        assert isinstance(vector, RemoteRetriever)  # read-only there, unlike Chroma
        assert vector.search("pan de Tandil", 5, SearchFilters()) == []
        corpus.load(served)  # written here after the worker opened the file
        local, close = _indexes.worker_retrievers(settings, ("vector",))
        try:
            for query in corpus.QUERIES:
                remote_ids = [h.chunk_id for h in vector.search(query, 8, SearchFilters())]
                local_ids = [h.chunk_id for h in local["vector"].search(query, 8, SearchFilters())]
                assert remote_ids == local_ids and remote_ids, query
        finally:
            close()
        results = served.search.search("pan de Tandil", 5)
        assert results and set(results[0].signals) == {"vector", "keyword", "graph"}
        served.health["vector"]()
    finally:
        served.close()


def test_a_reader_beside_the_writer_searches_vectors(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "flat")
    writer = wiring.open_services(settings)
    try:
        corpus.load(writer)
        # As a read command beside a running writer opens them (cliutil.read_services).
        reader = _vector_ranking(settings, read_only=True, local_vectors=False)
        assert reader == _vector_ranking(settings)
        assert any(reader.values())
    finally:
        writer.close()
