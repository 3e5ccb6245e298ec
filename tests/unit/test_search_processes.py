"""Retrievers in worker processes (``castgraph.retrieval.processes``): what a search gets from
them, how failures and dead workers reach the search service, and closing.

The workers are real spawned processes; their retrievers are fakes built by ``_factory`` (a
module-level function, as the pool pickles it by name)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from datetime import date

import pytest

from castgraph.core.errors import StorageError
from castgraph.core.models import Chunk
from castgraph.retrieval import processes as procs
from castgraph.retrieval.base import Hit, Retriever, SearchFilters
from castgraph.retrieval.processes import RetrieverProcesses, SubmittingRetriever
from castgraph.retrieval.search import SearchService


class Lookup:
    def get(self, ids: Sequence[str]) -> dict[str, Chunk]:
        return {
            i: Chunk(
                i, "ep1", 0, 0.0, 5.0, i, ("Ana",), "es", "T", "https://e.org/a", date(2024, 1, 1)
            )
            for i in ids
        }


class Echo:
    """Hits named after the query's words, with this process's id as the last score."""

    warmed = False

    def warm(self) -> None:
        Echo.warmed = True

    def search(self, query: str, k: int, filters: SearchFilters) -> list[Hit]:
        words = query.split()
        if "warmed?" in words:
            return [Hit("warmed", float(Echo.warmed))]
        if "explode" in words:
            raise StorageError("the index file is unreadable")
        if "die" in words:
            os._exit(3)  # a worker killed mid-search (out of memory, a signal)
        hits = [Hit(f"c-{w}", float(len(words) - i)) for i, w in enumerate(words[:k])]
        return [*hits, Hit("pid", float(os.getpid()))] if "pid" in words else hits


class Fixed:
    def search(self, query: str, k: int, filters: SearchFilters) -> list[Hit]:
        return [Hit("v1", 1.0), Hit("v2", 0.5)]


def _factory() -> tuple[dict[str, Retriever], object]:
    return {"keyword": Echo(), "graph": Echo()}, lambda: None


@pytest.fixture
def processes() -> Iterator[RetrieverProcesses]:
    pool = RetrieverProcesses(_factory, ("keyword", "graph"), processes=1).start()
    yield pool
    pool.close()


def test_a_worker_answers_as_its_retriever_does(processes: RetrieverProcesses) -> None:
    remote = processes.retriever("keyword")
    assert isinstance(remote, SubmittingRetriever)
    hits = remote.search("uno dos tres", 2, SearchFilters())
    assert hits == [Hit("c-uno", 3.0), Hit("c-dos", 2.0)]
    assert remote.search("pid", 5, SearchFilters())[-1].score != float(os.getpid())


def test_a_started_worker_reads_its_caches_ahead(processes: RetrieverProcesses) -> None:
    remote = processes.retriever("keyword")
    deadline = time.monotonic() + 10
    while remote.search("warmed?", 1, SearchFilters()) != [Hit("warmed", 1.0)]:
        assert time.monotonic() < deadline, "the worker never warmed its retrievers"
        time.sleep(0.05)
    assert not Echo.warmed  # in the worker, not here


def test_the_service_fuses_remote_and_local_rankings_in_retriever_order(
    processes: RetrieverProcesses,
) -> None:
    retrievers: dict[str, Retriever] = {
        "vector": Echo(),
        "keyword": processes.retriever("keyword"),
        "graph": processes.retriever("graph"),
    }
    service = SearchService(retrievers, Lookup(), visible=lambda: {"ep1"})
    local = SearchService(
        {"vector": Echo(), "keyword": Echo(), "graph": Echo()}, Lookup(), visible=lambda: {"ep1"}
    )
    try:
        rankings = service.rankings("alfa beta gama", SearchFilters())
        assert list(rankings) == ["vector", "keyword", "graph"]
        assert rankings == local.rankings("alfa beta gama", SearchFilters())
        got = service.search("alfa beta gama", 3)
        assert [(r.chunk.id, r.score) for r in got] == [
            (r.chunk.id, r.score) for r in local.search("alfa beta gama", 3)
        ]
    finally:
        service.close()
        local.close()


def test_a_failure_in_a_worker_degrades_the_search_to_the_others(
    processes: RetrieverProcesses,
) -> None:
    retrievers: dict[str, Retriever] = {
        "vector": Fixed(),
        "keyword": processes.retriever("keyword"),
    }
    service = SearchService(retrievers, Lookup(), visible=lambda: {"ep1"})
    try:
        outcome = service.search_outcome("explode alfa", 5)
    finally:
        service.close()
    assert [d.component for d in outcome.degraded] == ["keyword"]
    assert "unreadable" in outcome.degraded[0].message
    assert [r.chunk.id for r in outcome.results] == ["v1", "v2"]  # the vector's


def test_a_dead_worker_fails_its_search_and_a_new_one_starts_after_a_pause(
    processes: RetrieverProcesses, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(procs, "RESTART_DELAY_S", 0.5)
    remote = processes.retriever("graph")
    first = remote.search("pid", 5, SearchFilters())[-1].score
    processes.check()
    with pytest.raises(StorageError, match="worker process stopped"):
        remote.search("die", 5, SearchFilters())
    with pytest.raises(StorageError, match="restarts in"):  # not respawned for every search
        remote.search("pid", 5, SearchFilters())
    with pytest.raises(StorageError, match="restarts in"):
        processes.check()
    time.sleep(0.6)
    again = remote.search("pid", 5, SearchFilters())
    assert again[0] == Hit("c-pid", 1.0)
    assert again[-1].score != first  # another process
    processes.check()


def _unbuildable() -> tuple[dict[str, Retriever], object]:
    raise OSError("keyword.sqlite: permission denied")


def test_a_worker_that_cannot_start_is_not_respawned_for_every_search() -> None:
    pool = RetrieverProcesses(_unbuildable, ("keyword",), processes=1).start()
    remote = pool.retriever("keyword")
    try:
        with pytest.raises(StorageError, match="worker process stopped"):
            remote.search("uno", 1, SearchFilters())
        with pytest.raises(StorageError, match="restarts in"):
            remote.search("uno", 1, SearchFilters())
        with pytest.raises(StorageError, match="keyword search worker"):
            pool.check()
    finally:
        pool.close()


def test_after_close_a_search_says_the_workers_were_stopped() -> None:
    pool = RetrieverProcesses(_factory, ("keyword",), processes=1)
    remote = pool.retriever("keyword")
    assert remote.search("uno", 1, SearchFilters()) == [Hit("c-uno", 1.0)]  # starts on demand
    pool.close()
    pool.close()  # twice is fine
    with pytest.raises(StorageError, match="stopped"):
        remote.search("uno", 1, SearchFilters())
    with pytest.raises(KeyError):
        pool.retriever("vector")
