"""Per-item download limits: a byte cap enforced while the bytes arrive, a duration cap from the
item's metadata before any byte. A refused item's partial files are removed; it fails with a
message naming the setting, and the run goes on with the other items.

yt-dlp's own ``max_filesize`` is not used: it trusts ``Content-Length`` alone (a server that
sends none, or lies, is never stopped) and skips silently. The progress hook sees every block.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from castgraph.core.errors import SourceError
from castgraph.core.timefmt import clock


class LimitError(SourceError):
    """An item past a configured download limit (its partial files are to be removed)."""


def check_duration(duration: float | None, max_duration: float | None, url: str) -> None:
    """Refuse media whose (declared) duration is past ``max_duration`` seconds."""
    if max_duration is not None and duration is not None and duration > max_duration:
        raise LimitError(
            f"{url}: refused: it lasts {clock(duration)}, longer than the limit of "
            f"{clock(max_duration)} (CASTGRAPH_MAX_DURATION_S)"
        )


def check_size(size: float | None, max_bytes: int | None, url: str) -> None:
    """Refuse a download of (or announcing) more than ``max_bytes`` bytes."""
    if max_bytes is not None and size is not None and size > max_bytes:
        raise LimitError(
            f"{url}: refused: the download is larger than the limit of {_size(max_bytes)} "
            "(CASTGRAPH_MAX_DOWNLOAD_BYTES); download stopped"
        )


def size_hook(max_bytes: int | None, url: str) -> Callable[[dict[str, Any]], None]:
    """A yt-dlp progress hook that stops the download once it passes ``max_bytes``, or as soon
    as the server announces more (``Content-Length``)."""

    def hook(status: dict[str, Any]) -> None:
        if status.get("status") != "downloading":
            return
        check_size(status.get("downloaded_bytes"), max_bytes, url)
        check_size(status.get("total_bytes"), max_bytes, url)

    return hook


def duration_filter(max_duration: float | None, url: str) -> Callable[..., str | None]:
    """A yt-dlp ``match_filter`` refusing media whose extracted duration is too long."""

    def match(info: dict[str, Any], *, incomplete: bool = False) -> str | None:
        duration = info.get("duration")
        check_duration(float(duration) if duration else None, max_duration, url)
        return None

    return match


def remove_partials(dest_dir: Path, stem: str) -> None:
    """Remove what a stopped download of ``stem`` left in ``dest_dir`` (``.part`` and such)."""
    if not dest_dir.is_dir():
        return
    for path in dest_dir.iterdir():
        if path.name.startswith(stem + ".") and path.is_file():
            path.unlink(missing_ok=True)


def _size(n: int) -> str:
    """``4294967296`` → ``4.0 GiB``."""
    value, unit = float(n), "bytes"
    for bigger in ("KiB", "MiB", "GiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{n} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
