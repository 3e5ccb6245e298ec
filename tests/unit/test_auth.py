"""The API key over a real SQLite catalog: every write route without a key, with a wrong one,
a non-ASCII or malformed one, and the right one; private reads; the cookie; the settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import ValidationError

from castgraph.api.app import create_app
from castgraph.api.auth import require_api_key, require_read_access
from castgraph.core.models import MediaItem
from castgraph.core.settings import Settings
from tests import browse_corpus
from tests.browse_corpus import World

KEY = "s3cret-Key_0123"
# Reads by POST: they change nothing, so they need no key (only PUBLIC_READ gates them).
READ_POSTS = {("POST", "/api/chat"), ("POST", "/v1/chat/completions")}
KEYED_PREFIXES = ("/api/", "/v1/", "/media/")

# Headers that must all get a 401 JSON answer (never a 500) on a write route: raw bytes where
# the value is not ASCII, as a client would put them on the wire.
Raw = dict[str, str | bytes]
BAD: dict[str, Raw] = {
    "no key": {},
    "wrong key": {"X-API-Key": "nope"},
    "wrong bearer": {"Authorization": "Bearer nope"},
    "right key plus a byte": {"X-API-Key": KEY + "x"},
    "non-ASCII X-API-Key": {"X-API-Key": "clé".encode()},
    "non-ASCII bearer": {"Authorization": "Bearer clé".encode()},
    "latin-1 X-API-Key": {"X-API-Key": b"cl\xe9"},
    "right key with a non-ASCII byte": {"X-API-Key": KEY.encode() + b"\xff"},
    "basic auth": {"Authorization": "Basic dXNlcjpwYXNz"},
    "bearer without a key": {"Authorization": "Bearer"},
    "bearer with blanks": {"Authorization": "Bearer    "},
    "empty X-API-Key": {"X-API-Key": ""},
    "control character": {"X-API-Key": b"s3cret\x01"},
    "the key as a cookie": {"Cookie": f"castgraph_key={KEY}"},
}


@pytest.fixture
def world(tmp_path: Path) -> World:
    return browse_corpus.build(tmp_path)


def _app(world: World, tmp_path: Path, **settings: Any) -> FastAPI:
    config = Settings(data_dir=tmp_path / "data", **settings)
    return create_app(config, services=lambda _s: world.services)


@pytest.fixture
def keyed(world: World, tmp_path: Path) -> Iterator[TestClient]:
    app = _app(world, tmp_path, api_key=KEY)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _raw(headers: Raw) -> list[tuple[bytes, bytes]]:
    """Headers as the bytes on the wire (httpx would refuse a non-ASCII ``str`` value)."""
    return [
        (name.encode(), value if isinstance(value, bytes) else value.encode("latin-1"))
        for name, value in headers.items()
    ]


def _calls(dependant: Any) -> set[Callable[..., Any]]:
    found: set[Callable[..., Any]] = set()
    for sub in dependant.dependencies:
        if sub.call is not None:
            found.add(sub.call)
        found |= _calls(sub)
    return found


def _api_routes(app: FastAPI) -> list[tuple[str, str, Any]]:
    """(method, path, dependant) of every operation under /api, /v1 and /media. FastAPI 0.165
    keeps included routers nested: ``iter_route_contexts`` yields each operation as served,
    with its routers' dependencies merged into its dependant."""
    return [
        (method, context.path or "", context.dependant)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
        and (context.path or "").startswith(KEYED_PREFIXES)
        for method in sorted(context.methods or ())
    ]


def _writes(app: FastAPI) -> list[tuple[str, str]]:
    return [
        (method, path)
        for method, path, _route in _api_routes(app)
        if method not in ("GET", "HEAD") and (method, path) not in READ_POSTS
    ]


def _url(path: str) -> str:
    # Any value for the path parameters: the key is checked before the route looks anything up.
    return path.replace("{", "").replace("}", "").replace(":path", "")


def test_every_write_route_needs_the_key_and_every_route_is_gated(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path))
    routes = _api_routes(app)
    writes = set(_writes(app))
    assert {("DELETE", "/api/episodes/{episode_id}")} <= writes
    assert {("PUT", "/api/episodes/{episode_id}/speakers/{label}")} <= writes
    for method, path, dependant in routes:
        calls = _calls(dependant)
        if (method, path) in writes:
            assert require_api_key in calls, f"{method} {path} changes data without WriteAccess"
        assert require_read_access in calls, f"{method} {path} escapes CASTGRAPH_PUBLIC_READ"
    served = {c.path for c in iter_route_contexts(app.routes)}
    assert "/healthz" in served - {p for _m, p, _d in routes}


@pytest.mark.parametrize("case", sorted(BAD))
def test_write_routes_refuse_a_missing_wrong_or_malformed_key(
    keyed: TestClient, world: World, case: str
) -> None:
    for method, path in _writes(keyed.app):  # type: ignore[arg-type]
        response = keyed.request(method, _url(path), headers=_raw(BAD[case]), json={})
        assert response.status_code == 401, (method, path, case, response.text)
        assert "API key" in response.json()["detail"]
        assert response.headers["www-authenticate"] == "Bearer"
    assert len(world.catalog.list_episodes()) == len(world.ids)  # nothing was deleted
    assert world.catalog.speakers(world.ids["pan"])[0].name == "SPEAKER_00"


def test_messages_say_what_is_wrong(keyed: TestClient, world: World) -> None:
    url = f"/api/episodes/{world.ids['pan']}"
    missing = keyed.delete(url).json()["detail"]
    assert "needs the API key" in missing and "Authorization: Bearer <key>" in missing
    assert keyed.delete(url, headers={"X-API-Key": "nope"}).json()["detail"] == "wrong API key"
    accent = keyed.delete(url, headers=_raw({"X-API-Key": "clé".encode()})).json()["detail"]
    assert "malformed" in accent and "printable ASCII" in accent
    basic = keyed.delete(url, headers={"Authorization": "Basic eDp5"}).json()["detail"]
    assert "'Bearer <key>'" in basic


def test_the_right_key_writes(keyed: TestClient, world: World) -> None:
    pan, calor = world.ids["pan"], world.ids["calor"]
    rename = keyed.put(
        f"/api/episodes/{pan}/speakers/SPEAKER_00",
        json={"name": "Marta"},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert rename.status_code == 200 and world.catalog.speakers(pan)[0].name == "Marta"
    lower = keyed.delete(f"/api/episodes/{calor}", headers={"authorization": f"bearer  {KEY} "})
    assert lower.status_code == 204 and calor not in {e.id for e in world.catalog.list_episodes()}
    for method, path in _writes(keyed.app):  # type: ignore[arg-type]
        # Whatever the route then says (404, 422…), it is past the key check.
        response = keyed.request(method, _url(path), headers={"X-API-Key": KEY}, json={})
        assert response.status_code != 401, (method, path, response.text)


def test_x_api_key_wins_over_a_proxys_authorization(keyed: TestClient, world: World) -> None:
    both = {"X-API-Key": KEY, "Authorization": "Basic cHJveHk6dXNlcg=="}
    assert keyed.delete(f"/api/episodes/{world.ids['pan']}", headers=both).status_code == 204


def test_without_a_configured_key_writes_are_open(world: World, tmp_path: Path) -> None:
    # serve refuses to listen beyond loopback in this configuration (test_serve_binding)
    with TestClient(_app(world, tmp_path)) as client:
        odd: Raw = {"X-API-Key": "clé".encode()}
        assert (
            client.delete(f"/api/episodes/{world.ids['pan']}", headers=_raw(odd)).status_code == 204
        )


def test_public_reads_ignore_any_key(keyed: TestClient, world: World) -> None:
    sent: list[Raw] = [{}, {"X-API-Key": "clé".encode()}, {"Authorization": "Basic eDp5"}]
    for headers in sent:
        assert keyed.get("/api/episodes", headers=_raw(headers)).status_code == 200
        assert (
            keyed.get(f"/api/episodes/{world.ids['pan']}", headers=_raw(headers)).status_code == 200
        )
        assert keyed.get("/api/search?q=pan", headers=_raw(headers)).status_code == 200
        assert keyed.get("/v1/models", headers=_raw(headers)).status_code == 200


@pytest.fixture
def private(world: World, tmp_path: Path) -> Iterator[TestClient]:
    app = _app(world, tmp_path, api_key="k;e,y=1%", public_read=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_private_reads_need_the_key(private: TestClient, world: World) -> None:
    reads = ["/api/episodes", f"/api/episodes/{world.ids['pan']}", "/api/search?q=pan"]
    reads += ["/api/people", "/api/topics", "/v1/models", f"/media/{world.ids['pan']}"]
    for path in reads:
        refused: list[Raw] = [{}, {"X-API-Key": "nope"}, {"X-API-Key": "clé".encode()}]
        for headers in refused:
            response = private.get(path, headers=_raw(headers))
            assert response.status_code == 401, (path, headers, response.text)
        assert private.get(path, headers={"X-API-Key": "k;e,y=1%"}).status_code != 401, path
        bearer = private.get(path, headers={"Authorization": "Bearer k;e,y=1%"})
        assert bearer.status_code != 401, path
    chat = private.post("/api/chat", json={"question": "¿pan?"})
    assert chat.status_code == 401
    # the OpenAI-compatible routes answer in OpenAI's error envelope
    v1 = private.post("/v1/chat/completions", json={"messages": []}).json()
    assert v1["error"]["code"] == 401 and "API key" in v1["error"]["message"]


def test_private_reads_accept_the_uis_cookie_but_writes_do_not(
    private: TestClient, world: World, tmp_path: Path
) -> None:
    song = tmp_path / "ep.mp3"
    song.write_bytes(b"ID3" + bytes(200))
    item = MediaItem(source_id="file:ep", url=song.as_uri(), title="Ep", local_path=str(song))
    episode_id = world.catalog.register(item).id
    cookie = {"Cookie": "castgraph_key=k%3Be%2Cy%3D1%25"}  # encodeURIComponent, as the UI does
    audio = private.get(f"/media/{episode_id}", headers={**cookie, "Range": "bytes=0-9"})
    assert audio.status_code == 206 and audio.content == b"ID3" + bytes(7)
    assert private.get("/api/episodes", headers=cookie).status_code == 200
    assert private.get("/api/episodes", headers={"Cookie": "castgraph_key=k"}).status_code == 401
    accent = private.get("/api/episodes", headers={"Cookie": "castgraph_key=cl%C3%A9"})
    assert accent.status_code == 401 and "malformed" in accent.json()["detail"]
    assert private.delete(f"/api/episodes/{episode_id}", headers=cookie).status_code == 401


def test_the_shell_probes_and_docs_stay_public(private: TestClient) -> None:
    for path in ("/", "/episodes", "/healthz", "/docs", "/openapi.json", "/static/app.css"):
        assert private.get(path).status_code == 200, path


def test_openapi_documents_the_key_schemes(private: TestClient) -> None:
    schemes = private.get("/openapi.json").json()["components"]["securitySchemes"]
    assert schemes["Bearer"]["scheme"] == "bearer"
    assert schemes["X-API-Key"]["in"] == "header"
    assert schemes["castgraph_key cookie"]["in"] == "cookie"


@pytest.mark.parametrize("key", ["clé", "two words", "tab\tkey", "ключ"])
def test_settings_refuse_a_key_no_header_can_carry(key: str) -> None:
    with pytest.raises(ValidationError, match="printable ASCII"):
        Settings(api_key=key)  # type: ignore[arg-type]


def test_private_reads_without_a_key_is_a_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CASTGRAPH_API_KEY", raising=False)
    with pytest.raises(ValidationError, match="needs CASTGRAPH_API_KEY"):
        Settings(public_read=False)
    assert Settings(public_read=False, api_key=KEY).public_read is False  # type: ignore[arg-type]
