"""``/api/people`` and ``/api/topics`` over a real SQLite catalog and the in-memory graph."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from castgraph.api import topics
from tests import browse_corpus
from tests.browse_corpus import HOSTILE, World


@pytest.fixture
def world(tmp_path: Path) -> World:
    return browse_corpus.build(tmp_path)


@pytest.fixture
def client(world: World, tmp_path: Path) -> Iterator[TestClient]:
    with browse_corpus.client(world, tmp_path) as opened:
        yield opened


def _get(client: TestClient, url: str, **params: Any) -> Any:
    response = client.get(url, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_people_lists_named_speakers_of_indexed_episodes(client: TestClient) -> None:
    listed = _get(client, "/api/people")
    assert listed == [
        {
            "name": "Ana García",  # "ana garcia" in one episode: merged, the usual spelling shown
            "episodes": 3,  # the unindexed draft does not count
            "moments": 3,
            "first_published": "2024-03-05",
            "last_published": "2024-05-01",
        },
        {
            "name": HOSTILE,
            "episodes": 1,
            "moments": 1,
            "first_published": "2024-03-05",
            "last_published": "2024-03-05",
        },
    ]  # SPEAKER_00 of "pan" has no name: episode-local, left out


def test_person_timeline_is_ordered_tagged_and_linked(client: TestClient, world: World) -> None:
    body = _get(client, "/api/people/ana garcia")
    assert body["name"] == "Ana García" and body["truncated"] is False
    assert [e["episode_id"] for e in body["episodes"]] == [
        world.ids["calor"],  # 2024-03-05
        world.ids["quiet"],  # 2024-04-10
        world.ids["pan"],  # 2024-05-01 (registered first)
    ]
    calor, quiet, pan = body["episodes"]
    (said,) = calor["moments"]
    assert said["text"] == "Colgamos sensores en Parque Lezama, cerca de Barracas."
    assert (said["start"], said["end"], said["speaker"]) == (10.0, 18.0, "ana garcia")
    assert said["link"] == "https://www.youtube.com/watch?v=calor000001&t=10s"
    assert said["published"] == "2024-03-05" and said["title"] == "Episode calor"
    assert {t["key"] for t in said["topics"]} == {"parque lezama", "barracas"}
    # no entity named: the first sentences, untagged, played from the server (private URL)
    assert [m["topics"] for m in quiet["moments"]] == [[], []]
    assert quiet["moments"][0]["link"] == f"/media/{world.ids['quiet']}#t=0"
    assert [(m["start"], [t["name"] for t in m["topics"]]) for m in pan["moments"]] == [
        (10.0, ["Tucumán", "Doña Rosa"]),
        (30.0, ["Tucumán"]),
    ]
    assert pan["moments"][0]["link"] == "https://example.org/pan.mp3#t=10"
    assert pan["total_moments"] == 2 and pan["url"] == "https://example.org/pan.mp3"
    assert body["topics"][0] == {"key": "tucuman", "name": "Tucumán", "type": "place", "count": 2}
    assert {t["key"] for t in body["topics"]} == {
        "tucuman",
        "dona rosa",
        "parque lezama",
        "barracas",
    }


def test_person_topic_filter_and_caps(client: TestClient, world: World) -> None:
    only = _get(client, "/api/people/Ana García", topic="Tucumán")
    assert [e["episode_id"] for e in only["episodes"]] == [world.ids["pan"]]
    assert all(
        any(t["key"] == "tucuman" for t in m["topics"]) for m in only["episodes"][0]["moments"]
    )
    assert len(only["topics"]) == 4  # the chips to filter by stay complete
    capped = _get(client, "/api/people/Ana García", limit=1)
    assert capped["truncated"] is True
    assert [len(e["moments"]) for e in capped["episodes"]] == [1, 0, 0]
    assert [e["total_moments"] for e in capped["episodes"]] == [1, 2, 2]


def test_unknown_and_unnamed_people_are_404(client: TestClient) -> None:
    for name in ("Nadie", "SPEAKER_00", "!!!"):
        response = client.get(f"/api/people/{quote(name)}")
        assert response.status_code == 404 and "no named speaker" in response.json()["detail"]


def test_hostile_names_come_back_as_plain_strings(client: TestClient) -> None:
    response = client.get(f"/api/people/{quote(HOSTILE, safe='')}")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["name"] == HOSTILE
    assert body["episodes"][0]["moments"][0]["speaker"] == HOSTILE


def test_topics_by_mentions_and_folded_query(client: TestClient) -> None:
    listed = _get(client, "/api/topics")
    assert [(t["key"], t["mentions"]) for t in listed] == [
        ("barracas", 3),
        ("tucuman", 3),
        ("dona rosa", 2),
        ("parque lezama", 2),
    ]
    assert listed[1] == {"key": "tucuman", "name": "Tucumán", "type": "place", "mentions": 3}
    assert [t["key"] for t in _get(client, "/api/topics", q="TUCUMAN")] == ["tucuman"]
    assert [t["key"] for t in _get(client, "/api/topics", q="doña")] == ["dona rosa"]
    assert [t["key"] for t in _get(client, "/api/topics", q="lez")] == ["parque lezama"]
    assert _get(client, "/api/topics", q=HOSTILE) == []
    assert len(_get(client, "/api/topics", limit=1)) == 1
    assert client.get("/api/topics", params={"limit": 0}).status_code == 422


def test_topic_page_has_sentence_moments_and_related(client: TestClient, world: World) -> None:
    body = _get(client, "/api/topics/barracas")
    assert (body["name"], body["type"], body["mentions"]) == ("Barracas", "place", 3)
    assert body["truncated"] is False and body["related_total"] == 3
    assert [(m["episode_id"], m["start"]) for m in body["moments"]] == [
        (world.ids["calor"], 0.0),  # oldest episode first
        (world.ids["calor"], 10.0),  # the overlapping chunk gives its other sentence
        (world.ids["pan"], 0.0),
    ]
    assert body["moments"][2]["speaker"] == "SPEAKER_00"
    related = {r["key"]: r for r in body["related"]}
    assert [r["key"] for r in body["related"]] == ["parque lezama", "dona rosa", "tucuman"]
    lezama = related["parque lezama"]
    assert (lezama["relation"], lezama["direction"], lezama["weight"]) == ("co_occurs", "in", 2.0)
    assert lezama["type"] == "place" and lezama["name"] == "Parque Lezama"
    (evidence,) = lezama["moments"]  # the sentence naming both, not the chunk's start (0 s)
    assert evidence["start"] == 10.0 and "Parque Lezama" in evidence["text"]
    assert evidence["link"] == "https://www.youtube.com/watch?v=calor000001&t=10s"
    assert related["dona rosa"]["moments"][0]["text"].startswith("Hoy me acompaña")


def test_topic_by_name_caps_and_404(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _get(client, f"/api/topics/{quote('Parque Lezama')}")["key"] == "parque lezama"
    capped = _get(client, "/api/topics/barracas", limit=1)
    assert len(capped["moments"]) == 1 and capped["truncated"] is True
    monkeypatch.setattr(topics, "MAX_RELATED", 1)
    narrow = _get(client, "/api/topics/barracas")
    assert [r["key"] for r in narrow["related"]] == ["parque lezama"]
    assert narrow["related_total"] == 3 and narrow["truncated"] is True
    missing = client.get("/api/topics/nothing-here")
    assert missing.status_code == 404 and "no topic" in missing.json()["detail"]


def test_topics_skip_episodes_being_reindexed(client: TestClient, world: World) -> None:
    from castgraph.core.models import EpisodeState

    world.catalog.set_state(world.ids["calor"], EpisodeState.INDEXING)
    body = _get(client, "/api/topics/barracas")
    assert {m["episode_id"] for m in body["moments"]} == {world.ids["pan"]}
    assert all(m["episode_id"] != world.ids["calor"] for r in body["related"] for m in r["moments"])
    assert [p["episodes"] for p in _get(client, "/api/people")] == [2]


def test_topics_need_the_graph(tmp_path: Path) -> None:
    world = browse_corpus.build(tmp_path, graph=False)
    with browse_corpus.client(world, tmp_path) as client:
        response = client.get("/api/topics")
        assert response.status_code == 503 and "graph" in response.json()["detail"]
        assert client.get("/api/people").status_code == 200  # people read the catalog only
