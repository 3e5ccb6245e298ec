"""``CASTGRAPH_VECTOR_BACKEND=flat`` in the wired services: over the real stores it holds the
vectors Chroma holds and ranks them by their cosine about the centre, the server reads its
matrix ahead of the first search or searches it in worker processes, and a read-only process
beside the writer searches vectors too (Chroma cannot)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from castgraph.api import _indexes, wiring
from castgraph.core.settings import Settings
from castgraph.retrieval.base import SearchFilters
from castgraph.retrieval.embeddings.hashing import HashEmbedder
from castgraph.retrieval.processes import RemoteRetriever
from castgraph.retrieval.vector import collection_name
from castgraph.retrieval.vector._matrix import unit
from castgraph.retrieval.vector.flat import FlatVectorIndex
from tests import corpus
from tests.unit.test_flat_vectors import centred_cosines

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


def _chroma_vectors(settings: Settings) -> tuple[list[str], np.ndarray]:
    """Ids and vectors as the embedded Chroma collection stores them."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    embedder = HashEmbedder()
    client = chromadb.PersistentClient(
        path=str(settings.chroma_path), settings=ChromaSettings(anonymized_telemetry=False)
    )
    name = collection_name("chunks", embedder.name, embedder.dimension)
    stored = client.get_collection(name).get(include=["embeddings"])
    return [str(i) for i in stored["ids"]], unit(stored["embeddings"])


def test_flat_ranks_chromas_vectors_by_cosine_about_their_centre(tmp_path: Path) -> None:
    """Loaded by the same services, flat holds the vectors Chroma holds, and ranks them by the
    documented score (tests/unit/test_flat_vectors.py, centred_cosines)."""
    for backend in ("chroma", "flat"):
        services = wiring.open_services(_settings(tmp_path, backend))
        try:
            corpus.load(services)
        finally:
            services.close()
    flat = _vector_ranking(_settings(tmp_path, "flat"))
    ids, vectors = _chroma_vectors(_settings(tmp_path, "chroma"))
    for query in corpus.QUERIES:
        scores = centred_cosines(vectors, unit(HashEmbedder().embed_query(query)))
        expected = [(ids[i], float(scores[i])) for i in np.argsort(-scores, kind="stable")[:8]]
        assert [i for i, _ in flat[query]] == [i for i, _ in expected], query
        assert [s for _, s in flat[query]] == pytest.approx([s for _, s in expected], abs=1e-4)
    assert any(flat.values())


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
