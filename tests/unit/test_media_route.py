"""``GET /media/{episode_id}`` over a real SQLite catalog: ranges, types, what is never served."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from castgraph.api.app import create_app
from castgraph.api.media import media_type, public_url
from castgraph.api.services import Services
from castgraph.catalog import SqlCatalog
from castgraph.core.models import Chunk, MediaItem, Segment, Transcript, Word
from castgraph.core.settings import Settings
from castgraph.retrieval.search import SearchService

BODY = bytes(range(256)) * 4  # 1024 bytes, each position distinguishable


class _NoChunks:
    def get(self, ids: object) -> dict[str, Chunk]:
        return {}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # An API key is set: the media route must stay public (a <audio> tag cannot send one).
    return Settings(data_dir=tmp_path / "data", api_key="s3cret")  # type: ignore[arg-type]


@pytest.fixture
def catalog(settings: Settings) -> Iterator[SqlCatalog]:
    opened = SqlCatalog(settings.resolved_database_url).open()
    yield opened
    opened.close()


@pytest.fixture
def client(settings: Settings, catalog: SqlCatalog) -> Iterator[TestClient]:
    services = Services(catalog, SearchService({}, _NoChunks(), visible=set), None)
    with TestClient(create_app(settings, services=lambda _s: services)) as c:
        yield c


def _downloaded(catalog: SqlCatalog, settings: Settings, name: str, n: int = 1) -> str:
    """A feed episode (loopback enclosure, like the demo's) with its download on disk."""
    url = f"http://127.0.0.1:8765/episodes/ep{n}.mp3"
    episode = catalog.register(MediaItem(source_id=f"rss:{n}", url=url, title=f"Ep {n}"))
    folder = settings.media_dir / episode.id
    folder.mkdir(parents=True)
    (folder / name).write_bytes(BODY)
    return episode.id


def _local(catalog: SqlCatalog, path: Path) -> str:
    path.write_bytes(BODY)
    item = MediaItem(
        source_id=f"file:{path.name}", url=path.as_uri(), title=path.stem, local_path=str(path)
    )
    return catalog.register(item).id


def test_whole_file_with_type_and_accept_ranges(
    client: TestClient, catalog: SqlCatalog, settings: Settings
) -> None:
    episode_id = _downloaded(catalog, settings, "rss_1-0123abcd.mp3")
    response = client.get(f"/media/{episode_id}")
    assert response.status_code == 200 and response.content == BODY
    assert response.headers["content-type"] == "audio/mpeg"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-length"] == str(len(BODY))
    assert "attachment" not in response.headers.get("content-disposition", "")


def test_byte_ranges(client: TestClient, catalog: SqlCatalog, settings: Settings) -> None:
    url = f"/media/{_downloaded(catalog, settings, 'ep.mp3')}"
    first = client.get(url, headers={"Range": "bytes=0-99"})
    assert first.status_code == 206 and first.content == BODY[:100]
    assert first.headers["content-range"] == f"bytes 0-99/{len(BODY)}"
    assert first.headers["content-type"] == "audio/mpeg"
    middle = client.get(url, headers={"Range": "bytes=500-"})
    assert middle.status_code == 206 and middle.content == BODY[500:]
    suffix = client.get(url, headers={"Range": "bytes=-100"})
    assert suffix.status_code == 206 and suffix.content == BODY[-100:]
    assert suffix.headers["content-range"] == f"bytes 924-1023/{len(BODY)}"
    beyond = client.get(url, headers={"Range": "bytes=5000-6000"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(BODY)}"


def test_head_gives_headers_only(
    client: TestClient, catalog: SqlCatalog, settings: Settings
) -> None:
    response = client.head(f"/media/{_downloaded(catalog, settings, 'ep.mp3')}")
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-length"] == str(len(BODY))
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-type"] == "audio/mpeg"


def test_local_file_episode_is_served_in_place(
    client: TestClient, catalog: SqlCatalog, tmp_path: Path
) -> None:
    episode_id = _local(catalog, tmp_path / "charla.mp4")
    response = client.get(f"/media/{episode_id}", headers={"Range": "bytes=10-19"})
    assert response.status_code == 206 and response.content == BODY[10:20]
    assert response.headers["content-type"] == "video/mp4"


def test_moved_local_file_is_a_404_that_says_what_to_do(
    client: TestClient, catalog: SqlCatalog, tmp_path: Path
) -> None:
    path = tmp_path / "charla.mp3"
    episode_id = _local(catalog, path)
    path.unlink()
    response = client.get(f"/media/{episode_id}")
    assert response.status_code == 404
    detail = response.json()["detail"]
    assert f"no stored media for episode {episode_id}" in detail
    assert "moved or deleted" in detail and "castgraph ingest" in detail


def test_working_copies_and_partial_downloads_are_never_served(
    client: TestClient, catalog: SqlCatalog, settings: Settings
) -> None:
    episode_id = _downloaded(catalog, settings, "audio.wav")
    folder = settings.media_dir / episode_id
    for name in ("ep.mp3.part", "ep.part-Frag1.mp4", "ep.temp.mp3", "ep.mp3.ytdl", "ep.info.json"):
        (folder / name).write_bytes(b"unfinished")
    response = client.get(f"/media/{episode_id}")
    assert response.status_code == 404
    assert "re-ingest it" in response.json()["detail"]
    (folder / "ep.m4a").write_bytes(BODY)  # the finished download, beside the leftovers
    served = client.get(f"/media/{episode_id}")
    assert served.status_code == 200 and served.content == BODY
    assert served.headers["content-type"] == "audio/mp4"


def test_no_download_folder_is_a_404(client: TestClient, catalog: SqlCatalog) -> None:
    episode = catalog.register(MediaItem(source_id="yt:x", url="https://youtu.be/x", title="X"))
    response = client.get(f"/media/{episode.id}")
    assert response.status_code == 404 and "no stored media" in response.json()["detail"]


def test_symlinks_out_of_the_episode_folder_are_not_followed(
    client: TestClient, catalog: SqlCatalog, settings: Settings
) -> None:
    episode_id = _downloaded(catalog, settings, "placeholder.txt")
    secret = settings.data_dir / "secret.mp3"
    secret.write_bytes(b"not yours")
    (settings.media_dir / episode_id / "ep.mp3").symlink_to(secret)
    response = client.get(f"/media/{episode_id}")
    assert response.status_code == 404 and response.json()["detail"]


@pytest.mark.parametrize(
    "path",
    [
        "/media/nope",
        "/media/..%2F..%2Fcatalog.db",
        "/media/%2e%2e",
        "/media/%2e%2e%2fcatalog.db",
        "/media/..%2Fdata%2Fcatalog.db",
        "/media/a/b",
        "/media/%00",
    ],
)
def test_unknown_ids_and_traversal_are_404_json(
    client: TestClient, catalog: SqlCatalog, settings: Settings, path: str
) -> None:
    _downloaded(catalog, settings, "ep.mp3")
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert isinstance(response.json()["detail"], str)


def test_episode_links_of_local_media_point_to_the_media_route(
    client: TestClient, catalog: SqlCatalog, tmp_path: Path
) -> None:
    episode_id = _local(catalog, tmp_path / "charla.mp3")
    words = (Word("Hola", 12.0, 12.5),)
    transcript = Transcript("es", (Segment(12.0, 13.0, "Hola.", "SPEAKER_00", words),), 20.0)
    catalog.save_transcript(episode_id, transcript, None)
    body = client.get(f"/api/episodes/{episode_id}").json()
    assert body["segments"][0]["link"] == f"/media/{episode_id}#t=12"
    assert client.get(body["segments"][0]["link"].split("#")[0]).status_code == 200


@pytest.mark.parametrize(
    ("name", "downloaded", "expected"),
    [
        ("a.mp3", True, "audio/mpeg"),
        ("a.M4A", True, "audio/mp4"),
        ("a.mp4", False, "video/mp4"),
        ("a.webm", True, "audio/webm"),  # yt-dlp was asked for the best audio
        ("a.webm", False, "video/webm"),
        ("a.opus", True, "audio/ogg"),
        ("a.ogg", False, "audio/ogg"),
        ("a.wav", False, "audio/wav"),
        ("a.mkv", False, "video/x-matroska"),
        ("a.flac", True, "audio/flac"),
        ("a.json", True, None),
        ("a.db", False, None),
    ],
)
def test_media_types(name: str, downloaded: bool, expected: str | None) -> None:
    assert media_type(Path(name), downloaded=downloaded) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("file:///home/ana/charla%20uno.mp4", "/media/ab12?name=charla%20uno.mp4"),
        ("FILE:///srv/x/ca%C3%B1a.mp3", "/media/ab12?name=ca%C3%B1a.mp3"),
        ("file:///srv/x/a&b=c.mp3", "/media/ab12?name=a%26b%3Dc.mp3"),
        ("https://example.org/pan.mp3", "https://example.org/pan.mp3"),
        ("https://www.youtube.com/watch?v=abc", "https://www.youtube.com/watch?v=abc"),
        ("http://127.0.0.1:8765/ep1.mp3", "http://127.0.0.1:8765/ep1.mp3"),
    ],
)
def test_public_url_never_shows_a_local_path(url: str, expected: str) -> None:
    assert public_url(url, "ab12") == expected


def test_a_moved_local_files_404_names_the_file_not_its_path(
    client: TestClient, catalog: SqlCatalog, tmp_path: Path
) -> None:
    path = tmp_path / "private" / "charla.mp3"
    path.parent.mkdir()
    episode_id = _local(catalog, path)
    path.unlink()
    detail = client.get(f"/media/{episode_id}").json()["detail"]
    assert "charla.mp3 was moved or deleted" in detail and str(tmp_path) not in detail
