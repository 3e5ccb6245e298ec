"""The ``episode`` filter of ``/api/search`` and ``/api/chat`` takes an id or a unique prefix,
as every other command does: a prefix reaches search as the full id, an ambiguous or unknown
one is a clear error instead of silently matching nothing."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from castgraph.api.app import create_app
from castgraph.api.services import Services
from castgraph.catalog import SqlCatalog
from castgraph.core.models import AnswerRequest, MediaItem
from castgraph.core.settings import Settings
from castgraph.retrieval.answer import AnswerEvent
from castgraph.retrieval.base import SearchFilters
from castgraph.retrieval.search import SearchOutcome

EPISODES = 20
"""More episodes than hex digits: two ids share a first character (an ambiguous prefix)."""


class RecordingSearch:
    """A search service that returns nothing and remembers the filters it was given."""

    def __init__(self) -> None:
        self.filters: list[SearchFilters | None] = []

    def search(self, query: str, k: int, filters: SearchFilters | None = None) -> list[Any]:
        self.filters.append(filters)
        return []

    def search_outcome(
        self, query: str, k: int, filters: SearchFilters | None = None
    ) -> SearchOutcome:
        return SearchOutcome(self.search(query, k, filters))


class RecordingAnswers:
    def __init__(self) -> None:
        self.filters: list[SearchFilters | None] = []

    def prepare(
        self, question: str, history: Sequence[Any] = (), filters: SearchFilters | None = None
    ) -> AnswerRequest:
        self.filters.append(filters)
        return AnswerRequest(question=question, language="es", blocks=())

    def generate(self, request: AnswerRequest) -> Iterator[AnswerEvent]:
        yield AnswerEvent("done", info={"fallback": False})


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[SqlCatalog]:
    opened = SqlCatalog(f"sqlite:///{tmp_path / 'catalog.db'}").open()
    for n in range(EPISODES):
        opened.register(MediaItem(source_id=f"t:{n}", url=f"https://e.org/{n}", title=f"E{n}"))
    yield opened
    opened.close()


@pytest.fixture
def rig(tmp_path: Path, catalog: SqlCatalog) -> Iterator[tuple[TestClient, Any, Any]]:
    search, answers = RecordingSearch(), RecordingAnswers()
    services = Services(catalog, search, None, answers=answers)  # type: ignore[arg-type]
    app = create_app(Settings(data_dir=tmp_path / "data"), services=lambda _s: services)
    with TestClient(app) as client:
        yield client, search, answers


def _ambiguous(catalog: SqlCatalog) -> str:
    firsts = [e.id[0] for e in catalog.list_episodes()]
    return next(c for c in firsts if firsts.count(c) > 1)


def test_search_resolves_a_unique_prefix_to_the_full_id(
    rig: tuple[TestClient, Any, Any], catalog: SqlCatalog
) -> None:
    client, search, _ = rig
    full = catalog.list_episodes()[0].id
    response = client.get("/api/search", params=[("q", "pan"), ("episode", full[:8].upper())])
    assert response.status_code == 200, response.text
    assert search.filters[-1].episode_ids == (full,)


def test_chat_resolves_a_unique_prefix_to_the_full_id(
    rig: tuple[TestClient, Any, Any], catalog: SqlCatalog
) -> None:
    client, _, answers = rig
    full = catalog.list_episodes()[1].id
    body = {"question": "¿pan?", "stream": False, "filters": {"episode": [full[:6]]}}
    response = client.post("/api/chat", json=body)
    assert response.status_code == 200, response.text
    assert answers.filters[-1].episode_ids == (full,)


def test_ambiguous_and_unknown_prefixes_are_clear_errors(
    rig: tuple[TestClient, Any, Any], catalog: SqlCatalog
) -> None:
    client, search, answers = rig
    prefix = _ambiguous(catalog)
    ambiguous = client.get("/api/search", params={"q": "pan", "episode": prefix})
    assert ambiguous.status_code == 422
    assert "ambiguous: give more characters" in ambiguous.json()["detail"]
    unknown = client.get("/api/search", params={"q": "pan", "episode": "zzzz"})
    assert unknown.status_code == 404
    assert "no episode 'zzzz'" in unknown.json()["detail"]
    chat = client.post(
        "/api/chat", json={"question": "¿pan?", "stream": False, "filters": {"episode": ["zz"]}}
    )
    assert chat.status_code == 404 and "castgraph episodes" in chat.json()["detail"]
    assert search.filters == [] and answers.filters == []  # nothing searched on a bad filter
