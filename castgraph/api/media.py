"""Which stored file ``GET /media/{episode_id}`` streams, and links to it that work off-server.

An episode's media is either the local file it was ingested from (read in place, never copied)
or what the pipeline downloaded into ``media_dir/<episode id>/`` (kept after ingestion; only the
``audio.wav`` working copy is deleted). Only audio and video files are ever served, and only
from those two places: the episode id comes from the catalog, not from the request path.
"""

from __future__ import annotations

import logging
import mimetypes
import re
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote, urlencode, urlsplit

from castgraph.core.errors import NotFoundError, StorageError
from castgraph.core.models import Episode
from castgraph.core.timefmt import media_path

log = logging.getLogger(__name__)

_MEDIA_TYPES = {
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".m4b": "audio/mp4",
    ".aac": "audio/aac",
    ".opus": "audio/ogg",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".mka": "audio/x-matroska",
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".mkv": "video/x-matroska",
    ".webm": "video/webm",
}
_WORKING_COPY = "audio.wav"
"""The pipeline's 16 kHz mono extract: deleted after ingestion, never the episode's media."""
_UNFINISHED = re.compile(r"\.(part|ytdl|tmp|temp)(\.|-|$)", re.IGNORECASE)
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class StoredMedia:
    path: Path
    media_type: str


def media_type(path: Path, *, downloaded: bool) -> str | None:
    """The Content-Type of an audio or video file; None for anything else.

    A downloaded ``.webm`` is audio: the pipeline asks yt-dlp for the best *audio* format.
    """
    suffix = path.suffix.lower()
    if suffix == ".webm" and downloaded:
        return "audio/webm"
    guessed = _MEDIA_TYPES.get(suffix) or mimetypes.guess_type(path.name)[0]
    return guessed if guessed and guessed.startswith(("audio/", "video/")) else None


def stored_media(episode: Episode, local_path: str | None, media_dir: Path) -> StoredMedia:
    """The episode's media file, or a NotFoundError that says how to get it back."""
    if local_path:
        path = Path(local_path)
        if path.is_file():
            kind = media_type(path, downloaded=False) or "application/octet-stream"
            return StoredMedia(path, kind)
    found = _downloaded(media_dir, episode.id)
    if found is not None:
        return found
    missing = f"no stored media for episode {episode.id} ({episode.title!r})"
    if local_path:  # same content, same episode: ingesting the new place just updates the path
        raise NotFoundError(  # the file's name only: its path is the server's business
            f"{missing}: {Path(local_path).name} was moved or deleted; re-ingest it from its new "
            "place (`castgraph ingest NEW_PATH`) to play it here"
        )
    raise NotFoundError(
        f"{missing}: its download is gone (or it was ingested from captions only); "
        "re-ingest it (`castgraph ingest --force SOURCE`) to play it here"
    )


def _downloaded(media_dir: Path, episode_id: str) -> StoredMedia | None:
    """The finished download in the episode's folder; symlinks may not lead out of it."""
    if not _SAFE_ID.fullmatch(episode_id):
        return None
    try:
        folder = (media_dir / episode_id).resolve(strict=True)
        names = sorted(p.name for p in folder.iterdir())
    except OSError:  # no folder (never downloaded, captions only) or unreadable
        return None
    for name in names:
        if name == _WORKING_COPY or name.startswith(".") or _UNFINISHED.search(name):
            continue
        path = (folder / name).resolve()
        kind = media_type(path, downloaded=True)
        if kind is not None and path.parent == folder and path.is_file():
            return StoredMedia(path, kind)
    return None


def remove_downloads(media_dir: Path, episode_id: str) -> bool:
    """Delete ``media_dir/<episode id>/``, what the pipeline downloaded for a deleted episode.

    Nothing outside it: a symlink in its place is unlinked, not followed; links inside it are
    removed as links (``shutil.rmtree`` never follows them). A local file ingested in place is
    the user's and is never touched. Returns whether anything was removed; raises StorageError
    when the folder cannot be removed (the caller keeps the episode so a retry finishes it).
    """
    if not _SAFE_ID.fullmatch(episode_id):  # an id from the catalog; never a path
        return False
    folder = media_dir / episode_id
    try:
        if folder.is_symlink():
            folder.unlink()
        elif folder.is_dir():
            shutil.rmtree(folder)
        else:
            return False
    except OSError as exc:
        raise StorageError(
            f"could not delete the media of episode {episode_id}: {exc.strerror or exc}; "
            "fix the folder's permissions and delete the episode again"
        ) from exc
    log.info("episode media deleted", extra={"episode_id": episode_id})
    return True


def public_url(url: str, episode_id: str) -> str:
    """An episode's URL as the API shows it: a local file's ``file://`` URI (an absolute path on
    the server) becomes its media route, keeping only the file's name (the UI's player picks
    ``<video>`` by its extension): ``/media/{id}?name=talk.mp4``. Other URLs are unchanged."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "file":
        return url
    name = PurePosixPath(unquote(parts.path)).name
    return f"{media_path(episode_id)}?{urlencode({'name': name}, quote_via=quote)}"


def absolute_link(link: str, base: str) -> str:
    """A server-relative link (``/media/…``) made absolute against ``base``; others unchanged.

    JSON clients of the same server follow relative links; a terminal or a chat client cannot.
    """
    if link.startswith("/") and not link.startswith("//"):
        return base.rstrip("/") + link
    return link
