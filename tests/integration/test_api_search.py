"""The HTTP API over real stores (SQLite catalog, FTS5, Chroma, LadybugDB) with a hash embedder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from castgraph.api import wiring
from castgraph.api.app import create_app
from castgraph.api.services import Services
from castgraph.core.models import MediaItem
from castgraph.core.settings import Settings
from tests import corpus

pytestmark = pytest.mark.integration


def _settings(tmp_path: Path, **extra: object) -> Settings:
    return Settings(data_dir=tmp_path / "data", embedding_model="hash", **extra)  # type: ignore[arg-type]


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    opened = wiring.open_services(_settings(tmp_path))
    yield opened
    opened.close()


def _client(settings: Settings, services: Services) -> TestClient:
    return TestClient(create_app(settings, services=lambda _s: services))


@pytest.fixture
def loaded(tmp_path: Path, services: Services) -> Iterator[tuple[TestClient, dict[str, str]]]:
    ids = corpus.load(services)
    with _client(_settings(tmp_path, api_key="s3cret"), services) as client:
        yield client, ids


def test_search_returns_cited_moments(loaded: tuple[TestClient, dict[str, str]]) -> None:
    client, ids = loaded
    response = client.get("/api/search", params={"q": "¿Cómo se llama la masa madre?", "k": 3})
    assert response.status_code == 200
    body = response.json()
    top = body["results"][0]
    assert top["episode_id"] == ids["pan"] and "Doña Rosa" in top["text"]
    assert set(top) >= {
        "episode_id",
        "title",
        "url",
        "link",
        "speaker",
        "start",
        "end",
        "text",
        "score",
        "signals",
    }
    assert top["link"] == f"https://example.org/audio/pan.mp3#t={int(top['start'])}"
    assert top["speaker"] == "SPEAKER_01" and top["end"] > top["start"]
    assert top["signals"]["keyword"] is not None and set(top["signals"]) == {
        "vector",
        "keyword",
        "graph",
    }
    assert len(body["results"]) <= 3


def test_query_alias_youtube_links_and_graph_signal(
    loaded: tuple[TestClient, dict[str, str]],
) -> None:
    client, ids = loaded
    body = client.get("/api/search", params={"query": "Parque Lezama sensores"}).json()
    top = body["results"][0]
    assert top["episode_id"] == ids["calor"]
    assert top["link"].startswith("https://www.youtube.com/watch?v=calor000001&t=")
    assert any(r["signals"]["graph"] for r in body["results"])


def test_filters(loaded: tuple[TestClient, dict[str, str]]) -> None:
    client, ids = loaded
    only_en = client.get("/api/search", params={"q": "Barracas", "language": "en"}).json()
    assert {r["episode_id"] for r in only_en["results"]} == {ids["roofs"]}
    one = client.get("/api/search", params={"q": "Barracas", "episode": ids["pan"]}).json()
    assert {r["episode_id"] for r in one["results"]} == {ids["pan"]}
    later = client.get("/api/search", params={"q": "Barracas", "date_from": "2024-04-01"}).json()
    assert {r["episode_id"] for r in later["results"]} == {ids["roofs"]}
    host = client.get("/api/search", params={"q": "Barracas", "speaker": "speaker_00"}).json()
    assert host["results"] and all("SPEAKER_00" in r["speakers"] for r in host["results"])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "give the query"),
        ({"q": "   "}, "empty"),
        ({"q": "x" * 1001}, "limit is 1000"),
        ({"q": "ok", "k": "0"}, "k"),
        ({"q": "ok", "k": "many"}, "k"),
        ({"q": "ok", "date_from": "yesterday"}, "date_from"),
    ],
)
def test_bad_queries_get_a_clear_422(
    loaded: tuple[TestClient, dict[str, str]], params: dict[str, str], message: str
) -> None:
    client, _ = loaded
    response = client.get("/api/search", params=params)
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_empty_index_answers_with_no_results(tmp_path: Path, services: Services) -> None:
    with _client(_settings(tmp_path), services) as client:
        response = client.get("/api/search", params={"q": "hola"})
    assert response.status_code == 200 and response.json()["results"] == []


def test_episodes_openapi_and_health(loaded: tuple[TestClient, dict[str, str]]) -> None:
    client, ids = loaded
    listed = client.get("/api/episodes").json()
    assert {e["id"] for e in listed} == set(ids.values())
    assert all(e["state"] == "indexed" for e in listed)
    detail = client.get(f"/api/episodes/{ids['roofs']}").json()
    assert detail["segments"][0]["speaker"] == "SPEAKER_00"
    assert detail["segments"][1]["link"].startswith("https://www.youtube.com/watch?v=roofs")
    assert client.get("/api/episodes/nope").status_code == 404
    assert client.get("/healthz").json() == {
        "status": "ok",
        "episodes": 3,
        "indexed": 3,
        "components": {n: {"status": "ok"} for n in ("catalog", "keyword", "vector", "graph")},
    }
    schema = client.get("/openapi.json").json()
    assert "/api/search" in schema["paths"] and client.get("/docs").status_code == 200


def test_delete_needs_the_key_and_removes_everywhere(
    loaded: tuple[TestClient, dict[str, str]], services: Services
) -> None:
    client, ids = loaded
    url = f"/api/episodes/{ids['pan']}"
    assert client.delete(url).status_code == 401
    assert client.delete(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.delete(url, headers={"X-API-Key": "s3cret"}).status_code == 204
    body = client.get("/api/search", params={"q": "Doña Rosa masa madre"}).json()
    assert ids["pan"] not in {r["episode_id"] for r in body["results"]}
    assert ids["pan"] not in services.indexed_ids()
    assert client.delete(url, headers={"X-API-Key": "s3cret"}).status_code == 404


def test_episode_detail_names_speakers_with_their_evidence(
    loaded: tuple[TestClient, dict[str, str]], services: Services
) -> None:
    from castgraph.core.models import SpeakerGuess

    client, ids = loaded
    guess = SpeakerGuess("SPEAKER_00", "Ana Gómez", 0.9, 61.0, 63.5, "Soy Ana Gómez.")
    services.catalog.save_speaker_guesses(ids["roofs"], [guess])
    detail = client.get(f"/api/episodes/{ids['roofs']}").json()
    assert "Ana Gómez" in detail["speakers"] and detail["segments"][0]["speaker"] == "Ana Gómez"
    first = detail["speaker_details"][0]
    assert first["label"] == "SPEAKER_00" and first["name"] == "Ana Gómez"
    assert first["confirmed"] is False and first["confidence"] == 0.9
    evidence = first["evidence"]
    assert (evidence["start"], evidence["end"], evidence["text"]) == (61.0, 63.5, "Soy Ana Gómez.")
    assert (
        evidence["link"].startswith("https://www.youtube.com/watch?v=roofs")
        and "t=61s" in (evidence["link"])
    )


def test_no_response_shows_a_local_files_absolute_path(tmp_path: Path, services: Services) -> None:
    """A local file's ``file://`` URL names a path on the server: every route shows the media
    route with the file's name instead, and that URL plays the file."""
    private = tmp_path / "home" / "ana" / "grabaciones"
    private.mkdir(parents=True)
    media = private / "charla uno.mp4"
    media.write_bytes(b"\x00" * 64)
    episode = corpus.TextEpisode(
        "local", "Charla local", "es", corpus.EPISODES[0].published,
        (("SPEAKER_00", "Hablamos de Tucumán y de la masa madre Doña Rosa."),),
        media.as_uri(),
    )  # fmt: skip
    ids = corpus.load(services, (episode,))
    services.catalog.register(  # as the local source registers it: read in place from here
        MediaItem(
            source_id="text:local", url=media.as_uri(), title="Charla local", local_path=str(media)
        )
    )
    services.catalog.rename_speaker(ids["local"], "SPEAKER_00", "Ana")
    expected = f"/media/{ids['local']}?name=charla%20uno.mp4"
    with _client(_settings(tmp_path), services) as client:
        bodies = {
            "search": client.get("/api/search", params={"q": "Tucumán Doña Rosa"}),
            "chat": client.post("/api/chat", json={"question": "¿Y Doña Rosa?", "stream": False}),
            "stream": client.post("/api/chat", json={"question": "¿Y Doña Rosa?"}),
            "episodes": client.get("/api/episodes"),
            "episode": client.get(f"/api/episodes/{ids['local']}"),
            "person": client.get("/api/people/Ana"),
        }
        for name, response in bodies.items():
            assert response.status_code == 200, (name, response.text)
            assert str(tmp_path) not in response.text and "file:" not in response.text, name
        assert bodies["search"].json()["results"][0]["url"] == expected
        assert bodies["chat"].json()["sources"][0]["url"] == expected
        assert bodies["episodes"].json()[0]["url"] == expected
        assert bodies["episode"].json()["url"] == expected
        assert bodies["person"].json()["episodes"][0]["url"] == expected
        played = client.get(expected, headers={"Range": "bytes=0-9"})
        assert played.status_code == 206 and played.headers["content-type"] == "video/mp4"
        media.unlink()
        gone = client.get(expected)
        assert gone.status_code == 404 and str(tmp_path) not in gone.text
        assert "charla uno.mp4" in gone.json()["detail"]
