"""Concurrent searches over the real stores (FTS5, embedded Chroma, LadybugDB, hash embedder):
each query's retrievers run in the service's pool while other queries run beside it, and every
answer is the one the query gets alone."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from castgraph.api import wiring
from castgraph.api.services import Services
from castgraph.core.settings import Settings
from castgraph.retrieval.base import SearchFilters
from tests import corpus

pytestmark = pytest.mark.integration

QUERIES = corpus.QUERIES


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    opened = wiring.open_services(
        Settings(data_dir=tmp_path / "data", embedding_model="hash", max_inflight=4)
    )
    corpus.load(opened)
    yield opened
    opened.close()


def _ranked(services: Services, query: str) -> dict[str, list[str]]:
    rankings = services.search.rankings(query, SearchFilters())
    return {name: [h.chunk_id for h in hits] for name, hits in rankings.items()}


def test_concurrent_searches_give_the_answers_each_gets_alone(services: Services) -> None:
    alone = {q: _ranked(services, q) for q in QUERIES}
    assert set(next(iter(alone.values()))) == {"vector", "keyword", "graph"}
    assert any(r["graph"] for r in alone.values()), "the corpus should reach the graph too"
    with ThreadPoolExecutor(8) as clients:
        together = list(clients.map(lambda q: _ranked(services, q), QUERIES * 5))
    assert together == [alone[q] for q in QUERIES * 5]
