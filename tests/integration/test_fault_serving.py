"""A store unavailable while serving (issue 13, faults): search degrades to the remaining
retrievers with a ``degraded`` field, chat still answers, ``/healthz`` names the failing
component and answers 503 only when nothing can answer.

(a) A real ``castgraph serve`` over a Chroma server of its own, which the test stops mid-serve.
(b) The app over the real embedded stores with a faulting graph (its read model and store
raise on every read), then also a faulting keyword index (nothing can answer).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from castgraph.api import wiring
from castgraph.api.app import create_app
from castgraph.core.errors import StorageError
from castgraph.core.settings import Settings
from castgraph.retrieval.graph.embedded import EmbeddedGraphStore
from castgraph.retrieval.graph.readmodel import GraphReadModel
from castgraph.retrieval.keyword.sqlite_fts import SqliteKeywordIndex
from tests import corpus
from tests.chromaserver import running_chroma, stop
from tests.procs import serve, server_env

pytestmark = pytest.mark.integration

KEY = "faults-key"
QUERY = "Parque Lezama sensores"


def _get(base: str, path: str, **params: object) -> httpx.Response:
    return httpx.get(f"{base}{path}", params=params, headers={"X-API-Key": KEY}, timeout=60)


def _chat(base: str) -> httpx.Response:
    body = {"question": "¿Qué miden los sensores del Parque Lezama?", "stream": False}
    return httpx.post(f"{base}/api/chat", json=body, headers={"X-API-Key": KEY}, timeout=60)


def test_chroma_server_stopped_mid_serve(tmp_path: Path, models_dir: Path) -> None:
    (tmp_path / "chroma").mkdir()
    with running_chroma(tmp_path / "chroma") as (url, chroma):
        settings = Settings(data_dir=tmp_path / "data", embedding_model="hash", chroma_url=url)
        services = wiring.open_services(settings)
        try:
            corpus.load(services)
        finally:
            services.close()
        env = server_env(
            tmp_path,
            models_dir,
            KEY,
            CASTGRAPH_CHROMA_URL=url,
            CASTGRAPH_EMBEDDING_MODEL="hash",
            CASTGRAPH_GENERATOR="extractive",
        )
        with serve(env, tmp_path / "serve.log") as (base, _proc):
            before = _get(base, "/api/search", q=QUERY).json()
            assert before["degraded"] == [] and before["results"]
            assert any(r["signals"]["vector"] for r in before["results"])

            stop(chroma)
            search = _get(base, "/api/search", q=QUERY)
            assert search.status_code == 200, search.text
            body = search.json()
            assert [d["component"] for d in body["degraded"]] == ["vector"]
            assert body["degraded"][0]["message"]
            assert body["results"] and not any(r["signals"]["vector"] for r in body["results"])

            chat = _chat(base)
            assert chat.status_code == 200, chat.text
            assert chat.json()["answer"] and chat.json()["sources"]
            assert [d["component"] for d in chat.json()["degraded"]] == ["vector"]

            health = httpx.get(f"{base}/healthz", timeout=60)
            assert health.status_code == 200 and health.json()["status"] == "degraded"
            components = health.json()["components"]
            assert components["vector"]["status"] == "error" and components["vector"]["message"]
            assert {components[n]["status"] for n in ("catalog", "keyword", "graph")} == {"ok"}


def _fail(*_args: object, **_kwargs: object) -> object:
    raise StorageError("the graph file is unreadable")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path / "data", embedding_model="hash")
    services = wiring.open_services(settings)
    corpus.load(services)
    with TestClient(create_app(settings, services=lambda _s: services)) as test_client:
        yield test_client
    services.close()


def test_a_faulting_graph_then_keyword_index(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert client.get("/api/search", params={"q": QUERY}).json()["degraded"] == []
    monkeypatch.setattr(GraphReadModel, "_fetch", _fail)
    monkeypatch.setattr(EmbeddedGraphStore, "_read", _fail)

    body = client.get("/api/search", params={"q": QUERY}).json()
    assert body["degraded"] == [{"component": "graph", "message": "the graph file is unreadable"}]
    assert body["results"] and not any(r["signals"]["graph"] for r in body["results"])
    chat = client.post("/api/chat", json={"question": QUERY, "stream": False})
    assert chat.status_code == 200 and chat.json()["answer"]
    assert [d["component"] for d in chat.json()["degraded"]] == ["graph"]
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "degraded"
    assert health.json()["components"]["graph"] == {
        "status": "error",
        "message": "the graph file is unreadable",
    }

    # The keyword index serves every result's text: without it nothing can answer.
    monkeypatch.setattr(SqliteKeywordIndex, "_fetch", _fail)
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json()["status"] == "failing"
    assert client.get("/api/search", params={"q": QUERY}).status_code == 503
