"""``/api/ingest``, ``/api/jobs``, ``/api/subscriptions`` and ``/api/runs`` over a real catalog."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from castgraph.api.app import create_app
from castgraph.api.services import Services
from castgraph.catalog import SqlCatalog
from castgraph.core.settings import Settings
from tests.mediaserver import alias_public_host

KEY = "k3y-for-tests"
AUTH = {"X-API-Key": KEY}


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    alias_public_host(monkeypatch)  # public.test passes the URL guard without any network
    catalog = SqlCatalog(f"sqlite:///{tmp_path / 'catalog.db'}").open()
    services = Services(catalog=catalog, search=None, indexer=None)  # type: ignore[arg-type]
    settings = Settings(data_dir=tmp_path, api_key=KEY, worker=False)  # type: ignore[arg-type]
    with TestClient(create_app(settings, services=lambda _s: services)) as test_client:
        yield test_client


def _post(client: TestClient, path: str, body: Any = None, **headers: str) -> Any:
    return client.post(path, json=body, headers=headers or AUTH)


def test_ingest_queues_a_job_that_can_be_followed_and_cancelled(client: TestClient) -> None:
    response = _post(client, "/api/ingest", {"url": "https://public.test/feed.xml", "limit": 2})
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    assert response.json()["url"] == f"/api/jobs/{job_id}"
    job = client.get(f"/api/jobs/{job_id}").json()
    assert job["state"] == "queued" and job["kind"] == "ingest"
    assert job["request"]["source"] == "https://public.test/feed.xml"
    assert job["request"]["limit"] == 2 and job["progress"]["percent"] is None
    assert [j["id"] for j in client.get("/api/jobs").json()] == [job_id]
    cancelled = _post(client, f"/api/jobs/{job_id}/cancel").json()
    assert cancelled["state"] == "cancelled"
    retry = _post(client, f"/api/jobs/{job_id}/retry")
    assert retry.status_code == 202 and retry.json()["id"] != job_id
    assert client.get("/api/jobs/999").status_code == 404


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"url": "http://127.0.0.1:9/feed.xml"}, "CASTGRAPH_ALLOW_PRIVATE_URLS"),
        ({"url": "/etc/passwd"}, "http(s) URL"),
        ({"url": "ftp://public.test/a.mp3"}, "http(s) URL"),
        ({"url": "https://public.test/a", "captions": "always"}, "captions"),
        ({"url": "https://public.test/a", "limit": 0}, "limit"),
        ({"url": ""}, "url"),
    ],
)
def test_bad_ingest_requests_are_422(client: TestClient, body: Any, message: str) -> None:
    response = _post(client, "/api/ingest", body)
    assert response.status_code == 422 and message in response.json()["detail"]


def test_writes_need_the_key(client: TestClient) -> None:
    for path, body in [
        ("/api/ingest", {"url": "https://public.test/feed.xml"}),
        ("/api/subscriptions", {"source": "https://public.test/feed.xml"}),
        ("/api/jobs/1/cancel", None),
        ("/api/subscriptions/1/run", None),
    ]:
        assert client.post(path, json=body).status_code == 401, path
        assert _post(client, path, body, **{"X-API-Key": "wrong"}).status_code == 401
    assert client.delete("/api/subscriptions/1").status_code == 401
    assert client.get("/api/subscriptions").status_code == 200


def test_subscriptions_pause_resume_run_and_runs(client: TestClient) -> None:
    body = {"source": "https://public.test/feed.xml", "cron": "30 4 * * *", "limit": 3}
    created = _post(client, "/api/subscriptions", body)
    assert created.status_code == 201, created.text
    sub = created.json()
    assert sub["cron"] == "30 4 * * *" and sub["timezone"] == "UTC" and sub["limit"] == 3
    assert sub["next_due_at"].startswith(sub["next_due_at"][:10]) and sub["last_run"] is None
    again = _post(client, "/api/subscriptions", {**body, "cron": "0 5 * * *"})
    assert again.status_code == 200 and again.json()["id"] == sub["id"]
    path = f"/api/subscriptions/{sub['id']}"
    assert _post(client, f"{path}/pause").json()["state"] == "paused"
    assert _post(client, f"{path}/resume").json()["state"] == "active"
    run = _post(client, f"{path}/run")
    assert run.status_code == 202 and run.json()["trigger"] == "manual"
    runs = client.get("/api/runs", params={"subscription": sub["id"]}).json()
    assert [r["id"] for r in runs] == [run.json()["id"]] and runs[0]["state"] == "queued"
    assert runs[0]["errors_by_kind"] == {} and runs[0]["episodes"] == []
    assert client.get(path).json()["last_run"]["id"] == run.json()["id"]
    retried = _post(client, f"/api/runs/{run.json()['id']}/retry")
    assert retried.json()["id"] == run.json()["id"]  # the open run is reused
    assert client.delete(path, headers=AUTH).status_code == 204
    assert client.get(path).status_code == 404
    assert client.get("/api/subscriptions").json() == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"source": "https://public.test/f", "cron": "every night"}, "cron"),
        ({"source": "https://public.test/f", "timezone": "Mars/Base"}, "time zone"),
        ({"source": "http://10.0.0.1/feed"}, "CASTGRAPH_ALLOW_PRIVATE_URLS"),
    ],
)
def test_bad_subscriptions_are_422(client: TestClient, body: Any, message: str) -> None:
    response = _post(client, "/api/subscriptions", body)
    assert response.status_code == 422 and message in response.json()["detail"]
