"""Reading yt-dlp's info dicts (ids, dates, URLs) and telling its errors as castgraph errors."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from yt_dlp.extractor import gen_extractor_classes
from yt_dlp.extractor.common import InfoExtractor
from yt_dlp.utils import determine_ext, unsmuggle_url

from castgraph.core.errors import CastgraphError, SourceError
from castgraph.ingest.sources.local import MEDIA_EXTENSIONS

URL_DERIVED_IDS = frozenset({"generic", "html5mediaembed"})
"""Extractors whose ids come from a file or page name, made unique with a hash of the URL."""
_SKIP_TITLES = frozenset({"[private video]", "[deleted video]"})
_SKIP_AVAILABILITY = frozenset({"private", "needs_auth", "premium_only", "subscriber_only"})

_FRIENDLY: tuple[tuple[str, str], ...] = (
    (
        r"private video|granted access to this video",
        "private video: sign-in required; castgraph only ingests public videos",
    ),
    (r"confirm your age|age[- ]restricted", "age-restricted video: sign-in required"),
    (r"members[- ]only|join this channel", "members-only video: sign-in required"),
    (
        r"confirm you.re not a bot",
        "YouTube asks to sign in to confirm this is not a bot: wait a while and try again",
    ),
    (
        r"removed by the uploader|has been removed|no longer available|account .*terminated"
        r"|copyright",
        "removed: the video is no longer available",
    ),
    (
        r"premieres in|live event will begin|scheduled|is_upcoming",
        "not available yet: an upcoming premiere or live event; try again after it aired",
    ),
    (r"not available in your country|geo.?restrict", "not available in this country"),
    (r"video unavailable|this video is unavailable", "video unavailable"),
    (
        r"unsupported url",
        "yt-dlp does not support this URL: give a video, playlist, channel, RSS feed, a page "
        "with <audio>/<video>, or a direct media link",
    ),
    (
        r"http error 404",
        "not found (HTTP 404): check the link; the media may have been moved or deleted",
    ),
    (r"http error 410", "gone (HTTP 410): the media was deleted"),
    (r"did not get any data blocks", "the server sent an empty file: there is no media to decode"),
    (r"http error 40[13]", "access denied (HTTP 401/403): the server refused to serve it"),
    (r"http error 429", "rate limited (HTTP 429): wait a while and try again"),
    (r"http error 5\d\d", "the server failed (HTTP 5xx): try again later"),
    (r"timed? ?out", "network timeout: the server did not answer in time; try again"),
    (
        r"connection refused|name or service not known|name resolution|failed to resolve"
        r"|network is unreachable|connection reset|nodename nor servname|unable to download"
        r"|urlopen error|remote end closed",
        "network error: could not reach the server; check the address and your connection",
    ),
)


def castgraph_cause(exc: BaseException) -> CastgraphError | None:
    """A castgraph error (e.g. the URL guard's) that yt-dlp wrapped on its way up, if any."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, CastgraphError):
            return current
        exc_info = getattr(current, "exc_info", None)
        inner = exc_info[1] if isinstance(exc_info, tuple) and len(exc_info) > 1 else None
        todo += [current.__cause__, current.__context__, getattr(current, "cause", None), inner]
    return None


def _raw_message(exc: BaseException) -> str:
    message = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
    message = re.sub(r"^ERROR:\s*", "", message)
    return message.split("\n", 1)[0][:300]


def wrap(exc: BaseException, url: str) -> CastgraphError:
    """The castgraph error for ``exc`` raised by yt-dlp while handling ``url``."""
    inner = castgraph_cause(exc)
    if inner is not None:
        return inner
    raw = _raw_message(exc)
    lowered = raw.lower()
    friendly = next((text for pattern, text in _FRIENDLY if re.search(pattern, lowered)), None)
    if friendly is None:
        return SourceError(f"{url}: yt-dlp failed: {raw}")
    return SourceError(f"{url}: {friendly} (yt-dlp: {raw})")


def nothing_downloaded(url: str) -> SourceError:
    """The error for a download that ended without a file."""
    return SourceError(
        f"{url}: yt-dlp finished without downloading a file (no downloadable audio or video "
        "format was found); check that the link opens playable media"
    )


def flat_entries(info: dict[str, Any], depth: int = 0) -> Iterator[dict[str, Any]]:
    """The leaf entries of a (possibly nested, e.g. channel tabs) flat playlist."""
    for entry in info.get("entries") or []:
        if not isinstance(entry, dict):
            continue
        if entry.get("_type") == "playlist" and depth < 3:
            yield from flat_entries(entry, depth + 1)
        else:
            yield entry


def skip_reason(entry: dict[str, Any]) -> str | None:
    if entry.get("live_status") in ("is_live", "is_upcoming"):
        return "live or upcoming, not yet an episode"
    if str(entry.get("title") or "").lower() in _SKIP_TITLES:
        return "private or deleted"
    if entry.get("availability") in _SKIP_AVAILABILITY:
        return f"not public ({entry['availability']})"
    return None


def identity(info: dict[str, Any], parent: dict[str, Any] | None) -> tuple[str, str, str]:
    """(extractor key, id, link URL) of an info dict or a flat entry."""
    raw_url = str(info.get("url") or info.get("webpage_url") or "")
    url, smuggled = unsmuggle_url(raw_url, {})
    key = str(info.get("ie_key") or info.get("extractor_key") or "")
    ident = str(smuggled.get("force_videoid") or info.get("id") or "")
    if not key:
        key, temp_id = extractor_for(url)
        ident = ident or temp_id
    key = key.lower()
    if key == "youtube" and ident:
        return key, ident, f"https://www.youtube.com/watch?v={ident}"
    link = url if info.get("_type") in ("url", "url_transparent") else ""
    if not link:
        link = str(info.get("webpage_url") or "") if parent is None else media_url(info)
    if key in URL_DERIVED_IDS and not smuggled.get("force_videoid"):
        ident = f"{ident}-{url_hash(link or raw_url)}"
    return key, ident, link or url


def extractor_for(url: str) -> tuple[str, str]:
    """The key of the extractor that will handle ``url`` and its provisional id."""
    if f".{determine_ext(url)}" not in MEDIA_EXTENSIONS:
        for ie in gen_extractor_classes():
            if ie.ie_key() != "Generic" and ie.suitable(url):
                return str(ie.ie_key()), str(ie.get_temp_id(url) or InfoExtractor._generic_id(url))
    return "Generic", str(InfoExtractor._generic_id(url))


def media_url(info: dict[str, Any]) -> str:
    formats = [f for f in info.get("formats") or [] if isinstance(f, dict) and f.get("url")]
    return str(formats[-1]["url"]) if formats else str(info.get("url") or "")


def url_hash(url: str) -> str:
    parts = urlsplit(url)
    return hashlib.sha256(f"{parts.hostname}{parts.path}".encode()).hexdigest()[:8]


def positive_float(value: Any) -> float | None:
    try:
        return float(value) if value is not None and float(value) > 0 else None
    except (TypeError, ValueError):
        return None


def published_date(info: dict[str, Any]) -> date | None:
    """The publish date from ``upload_date``/``release_date`` or their timestamps (UTC)."""
    for key in ("upload_date", "release_date"):
        value = str(info.get(key) or "")
        if re.fullmatch(r"\d{8}", value):
            return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    for key in ("timestamp", "release_timestamp"):
        stamp = positive_float(info.get(key))
        if stamp is not None:
            return datetime.fromtimestamp(stamp, tz=UTC).date()
    return None


def file_stem(source_id: str) -> str:
    """A file-name-safe, case-insensitive-filesystem-safe stem for ``source_id``."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", source_id).strip("_")[:80]
    return f"{slug}-{hashlib.sha256(source_id.encode()).hexdigest()[:8]}"


def finished_download(dest_dir: Path, stem: str) -> Path | None:
    """A complete earlier download named ``stem.<ext>`` in ``dest_dir`` (not a ``.part``)."""
    partial = (".part", ".ytdl", ".tmp", ".temp")
    found = [
        p
        for p in dest_dir.glob(f"{stem}.*")
        if p.is_file() and not p.name.endswith(partial) and ".part-Frag" not in p.name
    ]
    return min(found, default=None)


def downloaded_path(info: dict[str, Any] | None) -> Path | None:
    if not info:
        return None
    if info.get("_type") == "playlist":
        entries = [e for e in info.get("entries") or [] if isinstance(e, dict)]
        return downloaded_path(entries[0]) if entries else None
    for download in info.get("requested_downloads") or []:
        path = download.get("filepath") or download.get("_filename")
        if path:
            return Path(path)
    return Path(info["filepath"]) if info.get("filepath") else None


MAX_DESCRIPTION_CHARS = 5000
_PEOPLE_KEYS = ("channel", "uploader", "creator", "artist")


def description(info: dict[str, Any], parent: dict[str, Any] | None = None) -> str:
    """The item's description, then its channel's (or feed's) name and description: where the
    people of an episode are usually named. Bounded: descriptions can be long."""
    parts: list[str] = [str(info.get("description") or "")]
    parts += [str(info.get(key) or "") for key in _PEOPLE_KEYS]
    if parent is not None:
        parts += [str(parent.get(key) or "") for key in ("title", *_PEOPLE_KEYS, "description")]
    return join_text(parts)


def join_text(parts: list[str]) -> str:
    """Distinct non-empty parts, one a line, at most ``MAX_DESCRIPTION_CHARS`` in all."""
    kept: list[str] = []
    for part in (p.strip() for p in parts):
        if part and not any(part in k for k in kept):
            kept.append(part)
    return "\n".join(kept)[:MAX_DESCRIPTION_CHARS]
