"""The web UI is served from ``frontend/`` on the API's origin, without shadowing the API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from fastapi.testclient import TestClient

from castgraph.api.app import create_app
from castgraph.api.routes import ui
from castgraph.api.routes.ui import PAGES
from castgraph.api.services import Services
from castgraph.catalog import SqlCatalog
from castgraph.core.models import Chunk
from castgraph.core.settings import Settings
from castgraph.retrieval.search import SearchService

REPO = Path(__file__).resolve().parents[2]
VENDOR = REPO / "frontend" / "vendor"


class _NoChunks:
    def get(self, ids: object) -> dict[str, Chunk]:
        return {}


def _client(settings: Settings) -> Iterator[TestClient]:
    catalog = SqlCatalog(settings.resolved_database_url).open()
    services = Services(catalog, SearchService({}, _NoChunks(), visible=set), None)
    with TestClient(create_app(settings, services=lambda _s: services)) as client:
        yield client
    catalog.close()


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    yield from _client(Settings(data_dir=tmp_path / "data"))


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/search?q=x",
        "/episodes",
        "/e/abc123?t=42",
        "/people/Luc%C3%ADa",
        "/topics/buenos%20aires",
    ],
)
def test_every_page_path_answers_the_app_shell(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<div id="app">' in response.text and "/static/js/main.js" in response.text


def test_assets_are_served_with_their_types(client: TestClient) -> None:
    js = client.get("/static/js/main.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert client.get("/static/app.css").headers["content-type"].startswith("text/css")
    assert client.get("/static/vendor/preact.module.js").status_code == 200


def test_the_ui_never_shadows_the_api(client: TestClient) -> None:
    response = client.get("/api/episodes")
    assert response.status_code == 200 and response.json() == []
    missing = client.get("/api/episodes/nope")
    assert missing.status_code == 404 and "detail" in missing.json()
    assert all(not p.startswith(("/api", "/v1", "/media", "/healthz")) for p in PAGES)


def _raw_get(app: Any, raw_path: str) -> int:
    """GET ``raw_path`` exactly as sent, as uvicorn would pass it on; the response's status.

    httpx (and so TestClient) removes ``..`` segments before sending, so a request with them
    never reaches the app that way; this scope keeps them.
    """
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": unquote(raw_path),
        "raw_path": raw_path.encode("ascii"),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []

    async def run() -> None:
        requested = False
        done = asyncio.Event()

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await done.wait()  # the client stays until the whole response came
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                done.set()

        await asyncio.wait_for(app(scope, receive, send), timeout=30)

    # Its own thread: in a whole-suite run the e2e session's Playwright keeps an event loop
    # running in the main thread, where asyncio.run() is refused.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, run()).result()
    return int(next(m["status"] for m in sent if m["type"] == "http.response.start"))


def test_static_paths_cannot_leave_the_folder(client: TestClient) -> None:
    assert (REPO / "frontend" / ".." / "pyproject.toml").is_file()  # there to be reached
    # The raw request does reach the files: ``..`` that stays inside the folder resolves.
    assert _raw_get(client.app, "/static/js/../app.css") == 200
    for raw in ("/static/../pyproject.toml", "/static/js/../../pyproject.toml"):
        assert _raw_get(client.app, raw) == 404, raw
    for path in ("/static/%2e%2e/pyproject.toml", "/static/..%2F..%2Fpyproject.toml"):
        assert httpx.URL(f"http://testserver{path}").raw_path == path.encode()  # sent as is
        assert client.get(path).status_code == 404, path
        assert _raw_get(client.app, path) == 404, path


def test_without_the_ui_files_the_api_runs_and_says_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ui, "shipped", lambda: [tmp_path / "nowhere"])
    for client in _client(Settings(data_dir=tmp_path / "data", ui_dir=tmp_path / "empty")):
        page = client.get("/")
        assert page.status_code == 503
        assert "CASTGRAPH_UI_DIR" in page.json()["detail"]
        assert client.get("/api/episodes").status_code == 200


def test_the_ui_dir_setting_wins(tmp_path: Path) -> None:
    own = tmp_path / "ui"
    own.mkdir()
    (own / "index.html").write_text("<p>mine</p>", encoding="utf-8")
    for client in _client(Settings(data_dir=tmp_path / "data", ui_dir=own)):
        assert client.get("/e/x").text == "<p>mine</p>"


def test_vendored_libraries_are_pinned_with_licences_and_hashes() -> None:
    import hashlib

    versions = json.loads((VENDOR / "VERSIONS.json").read_text(encoding="utf-8"))
    assert {v["package"] for v in versions} == {"preact", "htm", "marked", "dompurify"}
    for entry in versions:
        assert (VENDOR / entry["licence_file"]).is_file(), entry
        for name, digest in entry["files"].items():
            assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    imports = json.loads(
        (REPO / "frontend" / "index.html")
        .read_text(encoding="utf-8")
        .split('<script type="importmap">')[1]
        .split("</script>")[0]
    )["imports"]
    for target in imports.values():  # every import map entry points at a shipped file
        assert (REPO / "frontend" / target.removeprefix("/static/")).is_file(), target
