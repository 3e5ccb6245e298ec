"""Local media: one file, or a folder searched recursively for audio and video files.

Items are listed by file name (natural order: ``ep2`` before ``ep10``), which stands for
"published order" on disk. An item's ``url`` is the file's ``file://`` URI, used for display
and links only: the media is read from ``local_path`` and never fetched by URL.
"""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from castgraph.core.errors import InputError, SourceError
from castgraph.core.models import MediaItem
from castgraph.core.ports import ProgressCallback
from castgraph.ingest.audio import probe_duration

log = logging.getLogger(__name__)

AUDIO_EXTENSIONS = frozenset(
    [
        ".mp3",
        ".m4a",
        ".m4b",
        ".aac",
        ".ogg",
        ".oga",
        ".opus",
        ".flac",
        ".wav",
        ".wma",
        ".aif",
        ".aiff",
        ".amr",
        ".mka",
        ".spx",
    ]
)
VIDEO_EXTENSIONS = frozenset(
    [
        ".mp4",
        ".m4v",
        ".mov",
        ".mkv",
        ".webm",
        ".avi",
        ".wmv",
        ".flv",
        ".mpg",
        ".mpeg",
        ".ts",
        ".3gp",
    ]
)
MEDIA_EXTENSIONS = AUDIO_EXTENSIONS | VIDEO_EXTENSIONS

_HASH_BLOCK = 1024 * 1024


def content_id(path: Path) -> str:
    """``"file:"`` + a hash of the file's size and its first and last MiB.

    Stable when the file is moved or renamed, cheap on multi-GB videos; files that differ only
    in the middle would collide, which does not happen with real recordings.
    """
    digest = hashlib.sha256()
    size = path.stat().st_size
    digest.update(str(size).encode())
    with path.open("rb") as f:
        digest.update(f.read(_HASH_BLOCK))
        if size > _HASH_BLOCK:
            f.seek(max(_HASH_BLOCK, size - _HASH_BLOCK))
            digest.update(f.read(_HASH_BLOCK))
    return "file:" + digest.hexdigest()[:32]


def _natural_key(path: Path, root: Path) -> list[tuple[int, int | str]]:
    rel = path.relative_to(root).as_posix().lower()
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", rel)]


def _is_media(path: Path) -> bool:
    return path.suffix.lower() in MEDIA_EXTENSIONS and not path.name.startswith(".")


def media_files(folder: Path) -> list[Path]:
    """The media files under ``folder`` (recursive, hidden files and folders skipped), by name."""
    found = [
        p
        for p in folder.rglob("*")
        if p.is_file()
        and _is_media(p)
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    ]
    return sorted(found, key=lambda p: _natural_key(p, folder))


def local_path(source: str) -> Path:
    """A path from a path or a ``file://`` URI (``make_source`` has already guarded the URI)."""
    text = source.strip()
    if urlsplit(text).scheme.lower() == "file":
        text = url2pathname(urlsplit(text).path)
    return Path(text).expanduser()


class LocalSource:
    """A ``Source`` over local files; ``fetch`` returns the file itself, nothing is copied."""

    def resolve(
        self, source: str, *, limit: int | None = None, since: date | None = None
    ) -> list[MediaItem]:
        """The media files of ``source`` (a file or a folder), by name.

        ``since`` keeps files modified on or after that date; ``limit`` keeps the first N.
        """
        path = local_path(source)
        if path.is_file():
            files = [path]
        elif path.is_dir():
            files = media_files(path)
            if not files:
                shown = " ".join(sorted(AUDIO_EXTENSIONS | {".mp4", ".mkv", ".webm", ".mov"}))
                raise InputError(f"no media files found in folder {path} (looked for {shown} …)")
        else:
            raise InputError(f"no such file or folder: {source}")
        items = [self._item(f, origin=source) for f in files]
        if since is not None:
            items = [i for i in items if i.published is None or i.published >= since]
        log.info("resolved %s: %d local file(s)", source, len(items))
        return items if limit is None else items[: max(0, limit)]

    def details(self, item: MediaItem) -> MediaItem:
        """Local items are complete from ``resolve``: returns ``item``."""
        return item

    def fetch(
        self, item: MediaItem, dest_dir: Path, progress: ProgressCallback | None = None
    ) -> Path:
        """The item's own file (``dest_dir`` is unused): local media is read in place."""
        path = Path(item.local_path or "")
        if not item.local_path or not path.is_file():
            raise SourceError(
                f"{item.local_path or item.url} no longer exists: was it moved or deleted? "
                "Ingest it again from its new place"
            )
        if progress is not None:
            size = float(path.stat().st_size)
            progress(size, size)
        return path

    def _item(self, path: Path, *, origin: str) -> MediaItem:
        resolved = path.resolve()
        try:
            source_id = content_id(resolved)
            mtime = resolved.stat().st_mtime
        except OSError as e:
            raise InputError(f"cannot read {path}: {e.strerror or e}") from e
        return MediaItem(
            source_id=source_id,
            url=resolved.as_uri(),
            title=resolved.stem,
            duration=probe_duration(resolved),
            published=datetime.fromtimestamp(mtime).date(),
            origin=origin,
            local_path=str(resolved),
            description=media_tags(resolved),
        )


_TAGS = ("title", "artist", "album_artist", "album", "composer", "comment", "description")


def media_tags(path: Path) -> str:
    """The file's descriptive tags (title, artist, comment…), one a line: where the people of a
    recording are often named; empty when the container has none or cannot be read."""
    try:
        import av
    except ImportError:
        return ""
    try:
        with av.open(str(path)) as container:
            tags = {str(k).lower(): str(v) for k, v in (container.metadata or {}).items()}
    except Exception as e:  # PyAV raises many error types for non-media files
        log.debug("could not read the tags of %s: %s", path, e)
        return ""
    values = dict.fromkeys(tags[k].strip() for k in _TAGS if tags.get(k, "").strip())
    return "\n".join(values)[:5000]
