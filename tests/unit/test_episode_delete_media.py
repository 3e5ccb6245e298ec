"""Deleting an episode deletes its downloads (``media_dir/<id>/``) and nothing else: not another
episode's, not a local file ingested in place, not what a symlink in the folder points to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from castgraph.api.app import create_app
from castgraph.api.services import Services
from castgraph.catalog import SqlCatalog
from castgraph.core.errors import StorageError
from castgraph.core.models import MediaItem
from castgraph.core.settings import Settings
from castgraph.retrieval.search import SearchService
from tests.browse_corpus import RecordingIndex


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", api_key="s3cret")  # type: ignore[arg-type]


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    catalog = SqlCatalog(settings.resolved_database_url).open()
    search = SearchService({}, RecordingIndex(), visible=set)
    yield Services(catalog, search, None, [catalog.close], media_dir=settings.media_dir)
    catalog.close()


def _downloaded(services: Services, media_dir: Path, n: int) -> tuple[str, Path]:
    url = f"https://example.org/ep{n}.mp3"
    episode = services.catalog.register(MediaItem(source_id=f"rss:{n}", url=url, title=f"E{n}"))
    folder = media_dir / episode.id
    (folder / "sub").mkdir(parents=True)
    (folder / f"ep{n}.mp3").write_bytes(b"audio")
    (folder / "audio.wav").write_bytes(b"working copy")
    (folder / "sub" / "frag.part").write_bytes(b"partial")
    return episode.id, folder


def test_delete_removes_the_episodes_downloads_only(
    services: Services, settings: Settings, tmp_path: Path
) -> None:
    gone, folder = _downloaded(services, settings.media_dir, 1)
    kept, other = _downloaded(services, settings.media_dir, 2)
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "keep.mp3").write_bytes(b"not castgraph's")
    (folder / "link-to-dir").symlink_to(outside, target_is_directory=True)
    (folder / "link-to-file.mp3").symlink_to(outside / "keep.mp3")
    app = create_app(settings, services=lambda _s: services)
    with TestClient(app) as client:
        response = client.delete(f"/api/episodes/{gone[:6]}", headers={"X-API-Key": "s3cret"})
    assert response.status_code == 204
    assert not folder.exists() and not folder.is_symlink()
    assert (outside / "keep.mp3").read_bytes() == b"not castgraph's"  # links were not followed
    assert (other / "ep2.mp3").exists() and kept in {e.id for e in services.catalog.list_episodes()}
    assert settings.media_dir.is_dir()


def test_a_symlinked_episode_folder_is_unlinked_not_emptied(
    services: Services, settings: Settings, tmp_path: Path
) -> None:
    episode = services.catalog.register(
        MediaItem(source_id="rss:9", url="https://e.org/9", title="N")
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.mp3").write_bytes(b"keep")
    settings.media_dir.mkdir(parents=True)
    (settings.media_dir / episode.id).symlink_to(elsewhere, target_is_directory=True)
    services.delete_episode(episode.id)
    assert not (settings.media_dir / episode.id).is_symlink()
    assert (elsewhere / "keep.mp3").read_bytes() == b"keep"


def test_a_local_file_ingested_in_place_is_never_deleted(
    services: Services, tmp_path: Path
) -> None:
    path = tmp_path / "mine.mp3"
    path.write_bytes(b"the user's own file")
    item = MediaItem(source_id="file:mine", url=path.as_uri(), title="Mine", local_path=str(path))
    episode = services.catalog.register(item)
    services.delete_episode(episode.id)
    assert path.read_bytes() == b"the user's own file"
    assert services.catalog.list_episodes() == []


def test_media_that_cannot_be_removed_keeps_the_episode_for_a_retry(
    services: Services, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    episode_id, folder = _downloaded(services, settings.media_dir, 3)

    def refuse(*_a: object, **_k: object) -> None:
        raise PermissionError(13, "Permission denied", str(folder))

    monkeypatch.setattr("shutil.rmtree", refuse)
    with pytest.raises(StorageError, match="could not delete the media of episode"):
        services.delete_episode(episode_id)
    assert services.catalog.get(episode_id).id == episode_id  # a retry finishes the deletion
    monkeypatch.undo()
    services.delete_episode(episode_id)
    assert not folder.exists()
