"""Listing episodes through the API over a real SQLite catalog: a cheap ``/healthz`` and
``limit``/``offset`` pages on the list routes (the catalog's side is in ``test_catalog``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from castgraph.api.app import create_app
from castgraph.api.services import Services
from castgraph.catalog import SqlCatalog
from castgraph.core.settings import Settings
from castgraph.retrieval.search import SearchService
from tests import browse_corpus
from tests.unit.test_catalog import add_listed, sql_statements


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[SqlCatalog]:
    opened = SqlCatalog(f"sqlite:///{tmp_path / 'catalog.db'}").open()
    yield opened
    opened.close()


def _client(tmp_path: Path, catalog: SqlCatalog) -> TestClient:
    services = Services(
        catalog, SearchService({}, browse_corpus.RecordingIndex(), visible=set), None
    )
    return TestClient(
        create_app(Settings(data_dir=tmp_path / "data"), services=lambda _s: services)
    )


def test_healthz_counts_without_listing(
    tmp_path: Path, catalog: SqlCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(12):
        add_listed(catalog, n)

    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("/healthz listed every episode")

    monkeypatch.setattr(catalog, "list_episodes", refuse)
    with _client(tmp_path, catalog) as client, sql_statements(catalog) as statements:
        health = client.get("/healthz")
    assert health.json() == {
        "status": "ok",
        "episodes": 12,
        "indexed": 6,
        "components": {"catalog": {"status": "ok"}},
    }
    assert len(statements) == 1, statements


def test_episode_list_pages_with_total_and_next_offset(tmp_path: Path, catalog: SqlCatalog) -> None:
    ids = [add_listed(catalog, n, speakers=1) for n in range(105)]
    with _client(tmp_path, catalog) as client:
        default = client.get("/api/episodes")
        assert default.status_code == 200 and len(default.json()) == 100  # the default page
        assert default.headers["x-total-count"] == "105"
        assert default.headers["x-next-offset"] == "100"
        last = client.get("/api/episodes", params={"offset": 100})
        assert len(last.json()) == 5 and "x-next-offset" not in last.headers
        listed = [e["id"] for e in default.json() + last.json()]
        assert sorted(listed) == sorted(ids) and len(set(listed)) == 105
        assert set(default.json()[0]) >= {"id", "title", "url", "state", "speakers", "error"}
        small = client.get("/api/episodes", params={"limit": 2, "offset": 3})
        assert [e["id"] for e in small.json()] == listed[3:5]
        assert small.headers["x-next-offset"] == "5"
        beyond = client.get("/api/episodes", params={"offset": 500})
        assert beyond.json() == [] and beyond.headers["x-total-count"] == "105"
        for bad, words in (
            ({"limit": 1001}, "limit: Input should be less than or equal to 1000"),
            ({"limit": 0}, "limit"),
            ({"offset": -1}, "offset"),
        ):
            refused = client.get("/api/episodes", params=bad)
            assert refused.status_code == 422 and words in refused.json()["detail"], bad


def test_people_list_pages(tmp_path: Path) -> None:
    world = browse_corpus.build(tmp_path)
    with TestClient(
        create_app(Settings(data_dir=tmp_path / "data"), services=lambda _s: world.services)
    ) as client:
        everyone = client.get("/api/people", params={"limit": 1000}).json()
        assert len(everyone) >= 2
        first = client.get("/api/people", params={"limit": 1})
        assert first.json() == everyone[:1]
        assert first.headers["x-total-count"] == str(len(everyone))
        assert first.headers["x-next-offset"] == "1"
        rest = client.get("/api/people", params={"offset": 1}).json()
        assert rest == everyone[1:]
        assert client.get("/api/people", params={"limit": 5000}).status_code == 422
