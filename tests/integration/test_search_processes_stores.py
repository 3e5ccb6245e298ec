"""``CASTGRAPH_SEARCH_PROCESSES``: keyword and graph search in worker processes over the real
stores (FTS5, embedded Chroma, LadybugDB and its read model, hash embedder). The workers give
the rankings the retrievers give in the server process, and follow the server's writes."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from castgraph.api import _indexes, wiring
from castgraph.api.services import Services
from castgraph.core.errors import StorageError
from castgraph.core.settings import Settings
from castgraph.retrieval.base import Retriever, SearchFilters
from castgraph.retrieval.graph.linking import EntityIndex, EntityLinker
from castgraph.retrieval.graph.retriever import GraphRetriever
from castgraph.retrieval.keyword import SqliteKeywordIndex
from castgraph.retrieval.processes import RemoteRetriever
from tests import corpus

pytestmark = pytest.mark.integration

QUERIES = corpus.QUERIES


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", embedding_model="hash", search_processes=1)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    opened = wiring.open_services(settings, search_workers=True)
    yield opened
    opened.close()


def test_one_shot_commands_search_in_their_own_process(settings: Settings) -> None:
    opened = wiring.open_services(settings)  # as ``castgraph ingest`` or ``reindex`` do
    try:
        assert not any(isinstance(r, RemoteRetriever) for r in opened.search._retrievers.values())
    finally:
        opened.close()


def _ids(retrievers: dict[str, Retriever], query: str) -> dict[str, list[str]]:
    return {
        name: [h.chunk_id for h in r.search(query, 50, SearchFilters())]
        for name, r in retrievers.items()
    }


def test_workers_rank_as_the_server_would_and_follow_its_writes(
    services: Services, settings: Settings
) -> None:
    retrievers = services.search._retrievers
    assert isinstance(retrievers["keyword"], RemoteRetriever)
    assert isinstance(retrievers["graph"], RemoteRetriever)
    remote = {name: retrievers[name] for name in ("keyword", "graph")}
    assert _ids(remote, "pan de Tandil") == {"keyword": [], "graph": []}  # nothing indexed yet

    ids = corpus.load(services)  # written by this process after the workers opened the files
    local, close = _indexes.worker_retrievers(settings)
    try:
        for query in QUERIES:
            assert _ids(remote, query) == _ids(local, query), query
        assert any(_ids(remote, q)["graph"] for q in QUERIES), "the corpus should reach the graph"
        assert any(_ids(remote, q)["keyword"] for q in QUERIES)

        found_before = [c for q in QUERIES for hits in _ids(remote, q).values() for c in hits]
        gone = found_before[0].split("-")[0]
        assert gone in ids.values()
        assert services.indexer is not None
        services.indexer.delete(gone)
        for query in QUERIES:
            found = _ids(remote, query)
            assert found == _ids(local, query), query
            assert not any(cid.startswith(gone) for hits in found.values() for cid in hits)
    finally:
        close()

    results = services.search.search("pan de Tandil", 5)
    assert results and all(r.chunk.episode_id != gone for r in results)
    assert set(results[0].signals) == {"vector", "keyword", "graph"}


def test_the_server_searches_through_its_workers(settings: Settings) -> None:
    from fastapi.testclient import TestClient

    from castgraph.api.app import create_app

    with TestClient(create_app(settings)) as client:
        services = client.app.state.services  # type: ignore[attr-defined]
        assert isinstance(services.search._retrievers["keyword"], RemoteRetriever)
        corpus.load(services)
        response = client.get("/api/search", params={"q": "pan de Tandil", "k": 3})
        assert response.status_code == 200
        results = response.json()["results"]
        assert results and any(r["signals"]["keyword"] for r in results)


def test_a_server_without_workers_reads_its_caches_ahead(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", embedding_model="hash")  # no worker processes
    loading = wiring.open_services(settings)
    corpus.load(loading)
    loading.close()
    opened = wiring.open_services(settings, search_workers=True)  # as castgraph serve starts
    try:
        keyword = opened.search._retrievers["keyword"]
        graph = opened.search._retrievers["graph"]
        assert isinstance(keyword, SqliteKeywordIndex) and isinstance(graph, GraphRetriever)
        deadline = time.monotonic() + 20
        while not (_held(keyword) and graph._cache is not None and graph._cache.chunks):
            assert time.monotonic() < deadline, "no search ran, yet the caches should fill"
            time.sleep(0.05)
    finally:
        opened.close()


def test_with_workers_the_server_still_reads_entity_names_ahead_for_answers(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Graph search moved to a worker, but answers by an LLM link a question's entities in the
    server (relation facts): the server embeds the names it compares against ahead of them."""
    llm = {"llm_base_url": "http://127.0.0.1:9/v1", "llm_model": "none"}  # never called here
    settings = settings.model_copy(update=llm)
    loading = wiring.open_services(settings)
    corpus.load(loading)
    loading.close()
    prepared: list[EntityLinker] = []  # linkers prepared in this process (not the workers)
    original = EntityLinker.prepare

    def recording(linker: EntityLinker, index: EntityIndex | None = None) -> None:
        original(linker, index)
        prepared.append(linker)

    monkeypatch.setattr(EntityLinker, "prepare", recording)
    opened = wiring.open_services(settings, search_workers=True)  # as castgraph serve starts
    try:
        assert isinstance(opened.search._retrievers["graph"], RemoteRetriever)
        deadline = time.monotonic() + 20
        while not prepared:
            assert time.monotonic() < deadline, "no answer ran, yet the names should be embedded"
            time.sleep(0.05)
        assert prepared[0]._matrix is not None and prepared[0]._matrix.keys
    finally:
        opened.close()


def _held(keyword: SqliteKeywordIndex) -> int:
    current = keyword._postings._current
    return current.size if current is not None else 0


def test_a_killed_worker_degrades_search_and_health_until_it_restarts(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    from castgraph.retrieval import processes

    monkeypatch.setattr(processes, "RESTART_DELAY_S", 1.0)
    corpus.load(services)
    services.health["keyword"]()
    remote = services.search._retrievers["keyword"]
    assert isinstance(remote, RemoteRetriever)
    assert remote.search("pan de Tandil", 5, SearchFilters())  # the worker is up
    pool = remote._processes._pool
    assert pool is not None
    for pid in list(pool._processes):  # type: ignore[attr-defined]
        os.kill(pid, signal.SIGKILL)
        _wait_dead(pid)
    outcome = services.search.search_outcome("pan de Tandil", 5)
    assert [d.component for d in outcome.degraded] == ["keyword"]
    assert outcome.results  # vector and graph still answer
    with pytest.raises(StorageError, match="keyword search worker"):
        services.health["keyword"]()
    time.sleep(1.2)
    assert not services.search.search_outcome("pan de Tandil", 5).degraded
    services.health["keyword"]()


def _wait_dead(pid: int) -> None:
    """Until the process is gone or a zombie (its parent, the pool, reaps it)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][:1]
        except FileNotFoundError:
            return
        if state == "Z":
            return
        assert time.monotonic() < deadline, f"process {pid} outlived SIGKILL"
        time.sleep(0.01)
