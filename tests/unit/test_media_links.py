"""Moment links: public pages keep their URL, local and private media go through ``/media``,
and whatever leaves the server (CLI output, OpenAI-compatible answers) is absolute."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from castgraph.api.cli import app
from castgraph.api.cliutil import link_base
from castgraph.api.datadir import writer_lock
from castgraph.api.media import absolute_link
from castgraph.api.routes.openai_compat import sources_text
from castgraph.catalog import SqlCatalog
from castgraph.core.models import (
    Chunk,
    Citation,
    ContextBlock,
    MediaItem,
    Segment,
    Sentence,
    SpeakerGuess,
    Transcript,
    Word,
)
from castgraph.core.settings import Settings
from castgraph.core.timefmt import is_public_page, media_path, moment_link
from castgraph.retrieval.generation.moments import resolve_moments
from castgraph.retrieval.search import SearchResult


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8765/ep1.mp3",
        "http://10.0.0.5/ep.mp3",
        "http://192.168.1.20:8080/ep.mp3",
        "http://172.16.0.1/ep.mp3",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8765/ep.mp3",
        "http://[fe80::1]/ep.mp3",
        "http://localhost:8765/ep.mp3",
        "http://LOCALHOST./ep.mp3",
        "http://foo.local/ep.mp3",
        "http://nas/ep.mp3",
        "file:///home/ana/charla.mp3",
        "ftp://example.org/ep.mp3",
        "/media/abc",
        "",
    ],
)
def test_not_public_pages(url: str) -> None:
    assert not is_public_page(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org/audio/pan.mp3",
        "http://93.184.216.34/ep.mp3",
        "https://www.youtube.com/watch?v=abc",
        "https://youtu.be/abc",
    ],
)
def test_public_pages(url: str) -> None:
    assert is_public_page(url)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.org/a.mp3", "https://example.org/a.mp3#t=123"),
        ("https://example.org/a.mp3#t=5", "https://example.org/a.mp3#t=123"),
        ("https://www.youtube.com/watch?v=abc", "https://www.youtube.com/watch?v=abc&t=123s"),
        ("https://youtu.be/abc", "https://youtu.be/abc?t=123s"),
        ("http://127.0.0.1:8765/ep1.mp3", "/media/0123abcd#t=123"),
        ("http://192.168.1.20/ep1.mp3", "/media/0123abcd#t=123"),
        ("http://10.1.2.3/ep1.mp3", "/media/0123abcd#t=123"),
        ("http://[::1]/ep1.mp3", "/media/0123abcd#t=123"),
        ("http://localhost/ep1.mp3", "/media/0123abcd#t=123"),
        ("http://foo.local/ep1.mp3", "/media/0123abcd#t=123"),
        ("file:///home/ana/charla.mp3", "/media/0123abcd#t=123"),
    ],
)
def test_moment_link_with_an_episode(url: str, expected: str) -> None:
    assert moment_link(url, 123.7, "0123abcd") == expected


def test_moment_link_without_an_episode_keeps_the_url() -> None:
    """Without an id there is no /media route to point at: the URL itself, at the second."""
    assert moment_link("http://127.0.0.1:8765/ep1.mp3", 3.2) == "http://127.0.0.1:8765/ep1.mp3#t=3"
    assert moment_link("https://example.org/a.mp3", -4) == "https://example.org/a.mp3#t=0"


def test_media_path_quotes_the_id() -> None:
    assert media_path("abc") == "/media/abc" and media_path("../x") == "/media/..%2Fx"


def test_search_results_and_cited_moments_of_the_demo_link_to_media() -> None:
    """The demo's enclosures are on a loopback server that is gone once ingestion ends."""
    url = "http://127.0.0.1:8765/episodes/ep1.mp3"
    said = Sentence("Colgamos cuarenta sensores.", 40.0, 43.0, "Valeria")
    chunk = Chunk(
        "c1", "ep1", 0, 20.0, 45.0, said.text, ("Valeria",), "es", "T", url, sentences=(said,)
    )
    assert SearchResult(chunk, 1.0, {}).link == "/media/ep1#t=20"
    block = Citation("ep1", "T", url, "/media/ep1#t=20", None, 20.0, 45.0, said.text, (said,))
    answer = "Según Valeria: “Colgamos cuarenta sensores.” [1]"
    (source,) = resolve_moments(answer, [ContextBlock(1, block)])
    assert source.citation.link == "/media/ep1#t=40"


def test_absolute_link() -> None:
    assert absolute_link("/media/ab#t=3", "http://h:1/") == "http://h:1/media/ab#t=3"
    assert absolute_link("/media/ab#t=3", "https://cast.example/pod") == (
        "https://cast.example/pod/media/ab#t=3"
    )
    kept = "https://youtu.be/abc?t=3s"
    assert absolute_link(kept, "http://h:1") == kept
    assert absolute_link("//evil.example/x", "http://h:1") == "//evil.example/x"


def test_link_base(tmp_path: Path) -> None:
    base = Settings(data_dir=tmp_path, host="127.0.0.1", port=8000)
    assert link_base(base) == "http://127.0.0.1:8000"
    assert link_base(base.model_copy(update={"host": "0.0.0.0"})) == "http://127.0.0.1:8000"
    assert link_base(base.model_copy(update={"host": "::1"})) == "http://[::1]:8000"
    public = base.model_copy(update={"public_url": "https://cast.example"})
    assert link_base(public) == "https://cast.example"
    with writer_lock(tmp_path, "castgraph serve http://127.0.0.1:9001"):
        assert link_base(base) == "http://127.0.0.1:9001"  # the server that is running


def test_openai_sources_are_absolute() -> None:
    cited = Citation("ep1", "T", "file:///x.mp3", "/media/ep1#t=36", "Ana", 36.0, 40.0, "…")
    public = Citation("ep2", "U", "https://e.org/a.mp3", "https://e.org/a.mp3#t=5", None, 5, 6, "")
    text = sources_text((ContextBlock(1, cited), ContextBlock(2, public)), "http://testserver/")
    assert "[1] T — Ana — 00:36 — http://testserver/media/ep1#t=36" in text
    assert "[2] U — ? — 00:05 — https://e.org/a.mp3#t=5" in text


def test_cli_prints_absolute_media_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASTGRAPH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CASTGRAPH_PUBLIC_URL", "https://cast.example")
    media = tmp_path / "charla.mp3"
    media.write_bytes(b"x")
    with SqlCatalog(f"sqlite:///{tmp_path / 'catalog.db'}") as catalog:
        item = MediaItem("file:1", media.as_uri(), "Charla", local_path=str(media))
        episode = catalog.register(item)
        segment = Segment(7.0, 8.0, "Soy Ana.", "SPEAKER_00", (Word("Soy", 7.0, 7.5),))
        catalog.save_transcript(episode.id, Transcript("es", (segment,), 9.0), None)
        guess = SpeakerGuess("SPEAKER_00", "Ana", 0.9, 7.0, 8.0, "Soy Ana.")
        catalog.save_speaker_guesses(episode.id, [guess])
    result = CliRunner().invoke(app, ["speakers", "list", episode.id, "--json"])
    assert result.exit_code == 0, result.stderr
    [speaker] = json.loads(result.stdout)
    assert speaker["evidence"]["link"] == f"https://cast.example/media/{episode.id}#t=7"
