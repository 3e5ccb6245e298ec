"""``/healthz`` reports each component (issue 13, faults): a failing vector or graph store
degrades (200, ``degraded``), a failing catalog or keyword index means nothing can answer (503)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from castgraph.api.app import create_app
from castgraph.api.services import Services
from castgraph.catalog import SqlCatalog
from castgraph.core.errors import StorageError
from castgraph.core.settings import Settings
from castgraph.retrieval.search import SearchService
from tests import browse_corpus


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[SqlCatalog]:
    opened = SqlCatalog(f"sqlite:///{tmp_path / 'catalog.db'}").open()
    yield opened
    opened.close()


def _ok() -> None:
    return None


def _down(what: str) -> Callable[[], None]:
    def probe() -> None:
        raise StorageError(f"{what} is unreachable")

    return probe


def _health(tmp_path: Path, catalog: SqlCatalog, **failing: bool) -> tuple[int, dict[str, object]]:
    probes = {n: _down(n) if failing.get(n) else _ok for n in ("vector", "keyword", "graph")}
    services = Services(
        catalog,
        SearchService({}, browse_corpus.RecordingIndex(), visible=set),
        None,
        health=probes,
    )
    app = create_app(Settings(data_dir=tmp_path / "data"), services=lambda _s: services)
    with TestClient(app) as client:
        response = client.get("/healthz")
    return response.status_code, response.json()


def test_every_component_ok(tmp_path: Path, catalog: SqlCatalog) -> None:
    code, body = _health(tmp_path, catalog)
    assert code == 200 and body["status"] == "ok"
    assert body["components"] == {
        n: {"status": "ok"} for n in ("catalog", "vector", "keyword", "graph")
    }


@pytest.mark.parametrize("failing", [("vector",), ("graph",), ("vector", "graph")])
def test_a_failing_vector_or_graph_store_degrades(
    tmp_path: Path, catalog: SqlCatalog, failing: tuple[str, ...]
) -> None:
    code, body = _health(tmp_path, catalog, **dict.fromkeys(failing, True))
    assert code == 200 and body["status"] == "degraded"
    components = body["components"]
    assert isinstance(components, dict)
    for name in failing:
        assert components[name] == {"status": "error", "message": f"{name} is unreachable"}
    assert components["keyword"] == {"status": "ok"}


def test_a_failing_keyword_index_means_nothing_can_answer(
    tmp_path: Path, catalog: SqlCatalog
) -> None:
    code, body = _health(tmp_path, catalog, keyword=True)
    assert code == 503 and body["status"] == "failing"


def test_a_failing_catalog_means_nothing_can_answer(
    tmp_path: Path, catalog: SqlCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> dict[str, int]:
        raise StorageError("the catalog is locked")

    monkeypatch.setattr(catalog, "count_episodes", broken)
    code, body = _health(tmp_path, catalog)
    assert code == 503 and body["status"] == "failing"
    assert body["components"] == {
        "catalog": {"status": "error", "message": "the catalog is locked"},
        **{n: {"status": "ok"} for n in ("vector", "keyword", "graph")},
    }
