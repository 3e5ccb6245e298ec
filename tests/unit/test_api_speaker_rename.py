"""``PUT /api/episodes/{id}/speakers/{label}``: the key, validation, and re-indexing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from castgraph.core.models import EpisodeState
from tests import browse_corpus
from tests.browse_corpus import HOSTILE, World


@pytest.fixture
def world(tmp_path: Path) -> World:
    return browse_corpus.build(tmp_path)


@pytest.fixture
def client(world: World, tmp_path: Path) -> Iterator[TestClient]:
    with browse_corpus.client(world, tmp_path) as opened:
        yield opened


def _put(client: TestClient, episode_id: str, label: str, body: Any, **headers: str) -> Any:
    return client.put(f"/api/episodes/{episode_id}/speakers/{label}", json=body, headers=headers)


def _names(speakers: list[dict[str, Any]]) -> dict[str, str]:
    return {s["label"]: s["name"] for s in speakers}


def test_rename_without_a_key_renames_and_reindexes(client: TestClient, world: World) -> None:
    pan = world.ids["pan"]
    response = _put(client, pan, "SPEAKER_00", {"name": "  Marta   Pérez \n"})
    assert response.status_code == 200, response.text
    speakers = response.json()
    assert _names(speakers) == {"SPEAKER_00": "Marta Pérez", "SPEAKER_01": "Ana García"}
    marta = next(s for s in speakers if s["label"] == "SPEAKER_00")
    assert marta["confirmed"] is True and marta["confidence"] == 1.0
    detail = client.get(f"/api/episodes/{pan}").json()
    assert "Marta Pérez" in detail["speakers"] and detail["state"] == "indexed"
    assert detail["sentences"][0]["speaker"] == "Marta Pérez"
    # the indexes now cite the new name: keyword/vector chunks and the graph's speakers
    indexed = [c for c in world.index.chunks.values() if c.episode_id == pan]
    assert indexed and "Marta Pérez" in indexed[0].speakers
    assert "Marta Pérez" in world.graph.chunks(pan)[0].speakers
    assert "Marta Pérez" in {p["name"] for p in client.get("/api/people").json()}


def test_rename_by_current_name_and_of_an_unindexed_episode(
    client: TestClient, world: World
) -> None:
    response = _put(client, world.ids["calor"], "ana garcia", {"name": "Ana García"})
    assert response.status_code == 200
    assert _names(response.json())["SPEAKER_01"] == "Ana García"
    before = dict(world.index.chunks)
    draft = _put(client, world.ids["draft"], "SPEAKER_00", {"name": "Otra"})
    assert draft.status_code == 200 and _names(draft.json()) == {"SPEAKER_00": "Otra"}
    assert world.catalog.get(world.ids["draft"]).state is EpisodeState.QUEUED
    assert world.index.chunks == before  # not indexed: nothing re-indexed


def test_the_key_is_needed_when_set(world: World, tmp_path: Path) -> None:
    pan, body = world.ids["pan"], {"name": "Marta"}
    with browse_corpus.client(world, tmp_path, api_key="s3cret") as client:
        assert _put(client, pan, "SPEAKER_00", body).status_code == 401
        wrong = _put(client, pan, "SPEAKER_00", body, Authorization="Bearer nope")
        assert wrong.status_code == 401 and "API key" in wrong.json()["detail"]
        assert world.catalog.speakers(pan)[0].name == "SPEAKER_00"  # refused before any change
        ok = _put(client, pan, "SPEAKER_00", body, Authorization="Bearer s3cret")
        assert ok.status_code == 200 and _names(ok.json())["SPEAKER_00"] == "Marta"
        again = _put(client, pan, "SPEAKER_00", {"name": "Marta P."}, **{"X-API-Key": "s3cret"})
        assert again.status_code == 200
        assert "Marta P." in client.get(f"/api/episodes/{pan}").json()["speakers"]


@pytest.mark.parametrize(
    "body", [{"name": ""}, {"name": "   "}, {"name": "\x00\n"}, {"name": "x" * 101}, {}, None]
)
def test_bad_names_are_422(client: TestClient, world: World, body: Any) -> None:
    response = _put(client, world.ids["pan"], "SPEAKER_00", body)
    assert response.status_code == 422 and response.json()["detail"]
    assert world.catalog.speakers(world.ids["pan"])[0].name == "SPEAKER_00"


def test_unknown_label_or_episode_is_404(client: TestClient, world: World) -> None:
    response = _put(client, world.ids["pan"], "SPEAKER_09", {"name": "Ana"})
    assert response.status_code == 404
    assert "no speaker 'SPEAKER_09'" in response.json()["detail"]
    assert "SPEAKER_00" in response.json()["detail"]  # it lists the speakers there are
    assert _put(client, "ffffffffffff", "SPEAKER_00", {"name": "Ana"}).status_code == 404


def test_hostile_and_control_characters(client: TestClient, world: World) -> None:
    pan = world.ids["pan"]
    hostile = _put(client, pan, "SPEAKER_00", {"name": HOSTILE})
    assert hostile.status_code == 200 and _names(hostile.json())["SPEAKER_00"] == HOSTILE
    cleaned = _put(client, pan, "SPEAKER_00", {"name": "Ana\x1b[31m\tRuiz"})
    assert _names(cleaned.json())["SPEAKER_00"] == "Ana [31m Ruiz"
    assert client.get(f"/api/people/{HOSTILE.replace('/', '%2F')}").status_code == 200


def test_read_only_indexes_refuse_before_renaming(tmp_path: Path) -> None:
    world = browse_corpus.build(tmp_path, writable=False)
    with browse_corpus.client(world, tmp_path) as client:
        response = _put(client, world.ids["pan"], "SPEAKER_00", {"name": "Marta"})
        assert response.status_code == 503 and "read-only" in response.json()["detail"]
    assert world.catalog.speakers(world.ids["pan"])[0].name == "SPEAKER_00"
