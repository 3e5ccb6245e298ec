"""``castgraph search``, ``reindex``, ``delete`` and ``serve`` on real stores (hash embedder)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from castgraph.api import wiring
from castgraph.api.cli import app
from castgraph.catalog import SqlCatalog
from castgraph.core.models import MediaItem
from castgraph.core.settings import Settings
from tests import corpus
from tests.netutil import free_port

pytestmark = pytest.mark.integration
runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("CASTGRAPH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CASTGRAPH_EMBEDDING_MODEL", "hash")
    services = wiring.open_services(Settings())
    try:
        corpus.load(services)
    finally:
        services.close()
    yield tmp_path


def test_search_prints_moments_and_json(data_dir: Path) -> None:
    result = runner.invoke(app, ["search", "masa madre Doña Rosa", "-k", "2"])
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith("[00:") and "Masa madre en la ola de calor" in first
    assert "https://example.org/audio/pan.mp3#t=" in first
    as_json = runner.invoke(app, ["search", "Rotterdam green roofs", "--json", "-k", "3"])
    payload = json.loads(as_json.stdout)
    assert payload["query"] == "Rotterdam green roofs" and len(payload["results"]) <= 3
    top = payload["results"][0]
    assert top["title"] == "Green roofs or shady streets?"
    assert top["link"].startswith("https://www.youtube.com/watch?v=roofs000001&t=")
    assert set(top["signals"]) == {"vector", "keyword", "graph"}


def test_ask_prints_a_cited_answer_and_json(data_dir: Path) -> None:
    result = runner.invoke(app, ["ask", "¿Cómo se llama la masa madre de Tomás?"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert "Según" in lines[0] and "Doña Rosa" in lines[0] and "[1]" in lines[0]
    assert lines[1].startswith("[00:") and " — Masa madre en la ola de calor — " in lines[1]
    assert "https://example.org/audio/pan.mp3#t=" in lines[1]
    # (Not "Where is Rotterdam?": the corpus never says, and the answerer rightly abstains.)
    question = "How many hectares of green roofs does Rotterdam have?"
    payload = json.loads(runner.invoke(app, ["ask", question, "--json"]).stdout)
    assert (
        set(payload) == {"answer", "sources", "degraded"} and payload["sources"][0]["number"] == 1
    )
    assert set(payload["sources"][0]) >= {"episode_id", "title", "link", "speaker", "start", "text"}
    empty = runner.invoke(app, ["ask", " "])
    assert empty.exit_code == 2 and "the question is empty" in empty.stderr


def test_search_errors_are_clear(data_dir: Path) -> None:
    result = runner.invoke(app, ["search", "  "])
    assert result.exit_code == 2 and "the query is empty" in result.stderr
    bad_date = runner.invoke(app, ["search", "pan", "--date-from", "ayer"])
    assert bad_date.exit_code == 2 and "--date-from 'ayer' is not a date" in bad_date.stderr


def test_episode_filters_take_a_unique_prefix(data_dir: Path) -> None:
    """``--episode`` takes an id or a unique prefix, as ``episodes show`` and ``delete`` do."""
    catalog = SqlCatalog(f"sqlite:///{data_dir / 'catalog.db'}").open()
    try:
        pan = next(e.id for e in catalog.list_episodes() if e.title.startswith("Masa madre"))
        for n in range(17):  # queued, never indexed: 20 ids share some first character
            catalog.register(MediaItem(source_id=f"t:{n}", url=f"https://e.org/{n}", title="x"))
        firsts = [e.id[0] for e in catalog.list_episodes()]
    finally:
        catalog.close()
    found = runner.invoke(app, ["search", "Tucumán", "--json", "--episode", pan[:5]])
    assert found.exit_code == 0, found.output
    hits = json.loads(found.stdout)["results"]
    assert hits and {h["episode_id"] for h in hits} == {pan}
    asked = runner.invoke(app, ["ask", "¿Dónde vende pan Tomás?", "--json", "--episode", pan[:5]])
    assert asked.exit_code == 0, asked.output
    sources = json.loads(asked.stdout)["sources"]
    assert sources and {s["episode_id"] for s in sources} == {pan}
    for command in (["search", "pan"], ["ask", "¿pan?"]):
        unknown = runner.invoke(app, [*command, "--episode", "zzzz"])
        assert unknown.exit_code == 1 and "no episode 'zzzz'" in unknown.stderr
        assert "castgraph episodes" in unknown.stderr
        prefix = next(c for c in firsts if firsts.count(c) > 1)
        ambiguous = runner.invoke(app, [*command, "--episode", prefix])
        assert ambiguous.exit_code == 2 and "ambiguous: give more characters" in ambiguous.stderr


def test_reindex_rebuilds_and_delete_removes(data_dir: Path) -> None:
    for name in ("keyword.sqlite", "keyword.sqlite-wal", "keyword.sqlite-shm"):
        (data_dir / name).unlink(missing_ok=True)
    assert json.loads(runner.invoke(app, ["search", "Tucumán", "--json"]).stdout)["results"] == []
    result = runner.invoke(app, ["reindex"])
    assert result.exit_code == 0 and "3 episodes reindexed" in result.stderr
    found = json.loads(runner.invoke(app, ["search", "Tucumán", "--json"]).stdout)["results"]
    assert found and found[0]["title"] == "Masa madre en la ola de calor"
    episode_id = found[0]["episode_id"]
    other = next(r["episode_id"] for r in found if r["episode_id"] != episode_id)
    for kept in (episode_id, other):  # what the pipeline keeps of a download
        (data_dir / "media" / kept).mkdir(parents=True)
        (data_dir / "media" / kept / "episode.mp3").write_bytes(b"ID3")
    deleted = runner.invoke(app, ["delete", episode_id[:6]])
    assert deleted.exit_code == 0 and "deleted" in deleted.stderr
    assert not (data_dir / "media" / episode_id).exists()  # its download went with it
    assert (data_dir / "media" / other / "episode.mp3").exists()
    after = json.loads(runner.invoke(app, ["search", "Tucumán", "--json"]).stdout)["results"]
    assert episode_id not in {r["episode_id"] for r in after}
    assert runner.invoke(app, ["delete", episode_id]).exit_code == 1


def test_renamed_speakers_are_cited_by_name(data_dir: Path) -> None:
    hit = json.loads(runner.invoke(app, ["search", "Tucumán abuela", "--json"]).stdout)
    top = hit["results"][0]
    assert top["speaker"] == "SPEAKER_01"
    renamed = runner.invoke(app, ["speakers", "rename", top["episode_id"], "SPEAKER_01", "Tomás"])
    assert renamed.exit_code == 0, renamed.output
    again = json.loads(runner.invoke(app, ["search", "Tucumán abuela", "--json"]).stdout)
    assert again["results"][0]["speaker"] == "Tomás"


def test_search_goes_through_a_running_server(data_dir: Path) -> None:
    port = free_port()
    env = {**os.environ, "CASTGRAPH_DATA_DIR": str(data_dir), "CASTGRAPH_EMBEDDING_MODEL": "hash"}
    server = subprocess.Popen(
        [sys.executable, "-m", "castgraph", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("castgraph serve did not start")
        result = runner.invoke(app, ["search", "Tucumán", "--json"])
        assert result.exit_code == 0, result.output
        top = json.loads(result.stdout)["results"][0]
        assert top["title"] == "Masa madre en la ola de calor"
        prefix = top["episode_id"][:5]
        only = runner.invoke(app, ["search", "Barracas", "--json", "--episode", prefix])
        assert {h["episode_id"] for h in json.loads(only.stdout)["results"]} == {top["episode_id"]}
        unknown = runner.invoke(app, ["search", "Barracas", "--episode", "zzzz"])
        assert unknown.exit_code == 1 and "no episode 'zzzz'" in unknown.stderr
        asked = json.loads(runner.invoke(app, ["ask", "¿Dónde vende pan Tomás?", "--json"]).stdout)
        assert "San Telmo" in asked["answer"] and asked["sources"]
        held = runner.invoke(app, ["reindex"])
        assert held.exit_code == 1 and "castgraph serve http://127.0.0.1" in held.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)
