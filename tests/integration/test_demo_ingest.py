"""The demo channel through the whole pipeline, and named voices carried across episodes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from castgraph.api.media import stored_media
from castgraph.catalog import SqlCatalog
from castgraph.demo import DemoEpisode, build_demo, serve_demo

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed"),
]

CLI = [sys.executable, "-m", "castgraph.api.cli"]


@pytest.fixture
def env(tmp_path: Path, models_dir: Path) -> dict[str, str]:
    return dict(
        os.environ,
        CASTGRAPH_DATA_DIR=str(tmp_path / "data"),
        CASTGRAPH_MODELS_DIR=str(models_dir),
        CASTGRAPH_ALLOW_PRIVATE_URLS="1",
    )


def _cli(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"{args}: exit {proc.returncode}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def _json(env: dict[str, str], *args: str) -> Any:
    proc = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _speaker_at(segments: list[dict[str, Any]], start: float, end: float) -> str:
    """The speaker whose segments overlap [start, end] the most."""
    overlap: dict[str, float] = {}
    for s in segments:
        shared = min(end, s["end"]) - max(start, s["start"])
        if shared > 0:
            overlap[s["speaker"]] = overlap.get(s["speaker"], 0.0) + shared
    return max(overlap, key=lambda k: overlap[k])


def _speaker_of(segments: list[dict[str, Any]], episode: DemoEpisode, name: str) -> set[str]:
    return {_speaker_at(segments, t.start, t.end) for t in episode.turns if t.name == name}


def test_demo_command_ingests_the_channel(env: dict[str, str]) -> None:
    output = _cli(env, "demo", "--port", "0", "--quiet")
    assert "3 indexed, 0 failed" in output
    episodes = _json(env, "episodes", "--json")
    assert [e["language"] for e in episodes] == ["es", "es", "en"]
    assert {e["state"] for e in episodes} == {"indexed"}
    assert [len(e["speakers"]) for e in episodes] == [3, 2, 3]
    english = " ".join(
        s["text"] for s in _json(env, "episodes", "show", episodes[2]["id"], "--json")
    )
    assert "Rotterdam" in english and "green roof" in english.lower()
    _speakers_are_named(env, episodes, Path(env["CASTGRAPH_DATA_DIR"]) / "demo")
    _media_outlives_the_feed_server(Path(env["CASTGRAPH_DATA_DIR"]), episodes)
    _search_finds_the_gold_moments(env, Path(env["CASTGRAPH_DATA_DIR"]) / "demo")
    _ask_cites_the_gold_moments(env, Path(env["CASTGRAPH_DATA_DIR"]) / "demo")


def _speakers_are_named(env: dict[str, str], episodes: list[dict[str, Any]], demo: Path) -> None:
    """Hosts and guests are named from their introductions, spelled as the feed spells them
    (whatever Whisper heard), and each name is on the voice that says that person's lines."""
    channel = build_demo(demo)
    for info, episode in zip(episodes, channel.episodes, strict=True):
        people = {t.name for t in episode.turns}
        assert people <= set(info["speakers"]), (info["title"], info["speakers"])
        segments = _json(env, "episodes", "show", info["id"], "--json")
        for person in people:
            assert person in _speaker_of(segments, episode, person), (info["title"], person)
        details = _json(env, "speakers", "list", info["id"], "--json")
        for speaker in details:
            assert not speaker["confirmed"] and speaker["confidence"] >= 0.5, speaker
            evidence = speaker["evidence"]
            assert evidence["text"] and evidence["start"] is not None, speaker
            # The loopback feed server is gone: links play the stored copy, absolute for a CLI.
            assert evidence["link"].startswith("http"), evidence
            assert f"/media/{info['id']}#t=" in evidence["link"], evidence


def _media_outlives_the_feed_server(data: Path, episodes: list[dict[str, Any]]) -> None:
    """The demo's feed server is gone: ``/media`` plays the downloads kept in the data dir."""
    with SqlCatalog(f"sqlite:///{data / 'catalog.db'}") as catalog:
        for info in episodes:
            episode = catalog.get(info["id"])
            found = stored_media(episode, catalog.local_path(episode.id), data / "media")
            assert found.path.parent == (data / "media" / episode.id).resolve(), found
            assert found.media_type.startswith("audio/") and found.path.stat().st_size > 0


def _ask_cites_the_gold_moments(env: dict[str, str], demo_dir: Path) -> None:
    """The extractive answerer cites the moment that answers, in the question's language."""
    channel = build_demo(demo_dir)
    gold = {g.question_en: g for g in channel.gold_moments()}
    titles = {e.script.id: e.script.title for e in channel.episodes}
    cases = [
        ("¿Dónde trabaja Valeria Quiroga?", "Where does Valeria Quiroga work?", "Según"),
        (
            "How many hectares of green roofs does Rotterdam have?",
            "How many hectares of green roofs does Rotterdam have?",
            "According to",
        ),
    ]
    for question, key, opening in cases:
        moment = gold[key]
        reply = _json(env, "ask", question, "--json")
        # The answer names the person who said it ("Según Valeria Quiroga…"), not a label.
        assert f"{opening} {moment.speaker}" in reply["answer"], reply["answer"]
        assert "[1]" in reply["answer"], reply["answer"]
        source = reply["sources"][0]
        assert source["title"] == titles[moment.episode_id], reply
        # The cited moment is the quoted sentence inside the answering turn, not a block start.
        assert moment.start - 2 <= source["start"] <= moment.end, (source, moment)
        assert source["kind"] == "quote" and source["speaker"] == moment.speaker, source
        media = f"/media/{source['episode_id']}#t={int(source['start'])}"
        assert source["link"].endswith(media), source
        assert source["context"]["start"] <= source["start"] <= source["context"]["end"]


def _search_finds_the_gold_moments(env: dict[str, str], demo_dir: Path) -> None:
    """Spanish, English and cross-language questions find the moment that answers them."""
    gold = {g.question_en: g for g in build_demo(demo_dir).gold_moments()}
    titles = {e.script.id: e.script.title for e in build_demo(demo_dir).episodes}
    cases = [
        ("¿Dónde trabaja Valeria Quiroga?", "Where does Valeria Quiroga work?"),
        ("How many hectares of green roofs does Rotterdam have?",) * 2,
        (
            "¿Cuántas hectáreas de techos verdes tiene Rotterdam?",
            "How many hectares of green roofs does Rotterdam have?",
        ),
        ("How many hours does the dough ferment in the fridge?",) * 2,
    ]
    for question, key in cases:
        moment = gold[key]
        results = _json(env, "search", question, "-k", "5", "--json")["results"]
        assert any(
            r["title"] == titles[moment.episode_id]
            and r["start"] <= moment.end
            and r["end"] >= moment.start
            and r["link"].endswith(f"/media/{r['episode_id']}#t={int(r['start'])}")
            for r in results
        ), f"{question!r}: no result covers {moment.start:.0f}-{moment.end:.0f} s"


def test_a_named_voice_keeps_its_name_in_later_episodes(
    env: dict[str, str], tmp_path: Path
) -> None:
    channel = build_demo(tmp_path / "demo")
    first, second = channel.episodes[0], channel.episodes[1]
    with serve_demo(channel.folder) as feed:
        _cli(env, "ingest", feed, "--limit", "1", "--quiet")
        [ep1] = [e for e in _json(env, "episodes", "--json") if e["state"] == "indexed"]
        [label] = _speaker_of(
            _json(env, "episodes", "show", ep1["id"], "--json"), first, "Lucía Benítez"
        )
        _cli(env, "speakers", "rename", ep1["id"], label, "Lucía Benítez")
        _cli(env, "ingest", feed, "--limit", "1", "--quiet")
    ep2 = next(e for e in _json(env, "episodes", "--json") if e["title"] == second.script.title)
    segments = _json(env, "episodes", "show", ep2["id"], "--json")
    assert _speaker_of(segments, second, "Lucía Benítez") == {"Lucía Benítez"}
    assert "Lucía Benítez" not in _speaker_of(segments, second, "Tomás Iriarte")
