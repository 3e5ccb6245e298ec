"""New videos of a YouTube channel from its RSS feed: one cheap request, no bot check.

The feed lists a channel's latest 15 uploads, so it suits the runs of a subscription after the
first (which lists the whole channel with yt-dlp). When the channel id is not in the URL (an
``@handle``), or the feed fails, resolution falls back to yt-dlp's flat listing. Details and
downloads always go through yt-dlp.
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from datetime import date, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from castgraph.core.errors import CastgraphError, SourceError
from castgraph.core.models import MediaItem
from castgraph.core.ports import ProgressCallback, Source
from castgraph.ingest.sources.urlguard import URLGuard

log = logging.getLogger(__name__)

FEED_URL = "https://www.youtube.com/feeds/videos.xml"
_CHANNEL = re.compile(r"^/channel/(UC[\w-]{22})(?:/|$)")
_NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "yt": "http://www.youtube.com/xml/schemas/2015",
    "media": "http://search.yahoo.com/mrss/",
}
_MAX_FEED_BYTES = 2_000_000


def channel_id(url: str) -> str | None:
    """The ``UC…`` id of a YouTube channel URL (``/channel/UC…`` or a feed URL), else None."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if not (host == "youtube.com" or host.endswith(".youtube.com")):
        return None
    found = _CHANNEL.match(parts.path)
    if found:
        return found.group(1)
    if parts.path == "/feeds/videos.xml":
        ids = parse_qs(parts.query).get("channel_id") or []
        return ids[0] if ids and re.fullmatch(r"UC[\w-]{22}", ids[0]) else None
    return None


def parse_feed(xml: bytes, origin: str) -> list[MediaItem]:
    """The videos of a channel feed, oldest first (``youtube:<id>``, as yt-dlp names them)."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise SourceError(f"{origin}: the channel feed is not valid XML ({exc})") from exc
    channel = root.findtext("atom:title", default="", namespaces=_NS)
    items = []
    for entry in root.findall("atom:entry", _NS):
        video = entry.findtext("yt:videoId", default="", namespaces=_NS).strip()
        if not video:
            continue
        description = entry.findtext("media:group/media:description", default="", namespaces=_NS)
        items.append(
            MediaItem(
                source_id=f"youtube:{video}",
                url=f"https://www.youtube.com/watch?v={video}",
                title=entry.findtext("atom:title", default=video, namespaces=_NS).strip(),
                published=_date(entry.findtext("atom:published", default="", namespaces=_NS)),
                origin=origin,
                description="\n".join(t for t in (description, channel) if t),
            )
        )
    return sorted(items, key=lambda i: i.published or date.min)


def _date(text: str) -> date | None:
    try:
        return datetime.fromisoformat(text.strip()).date()
    except ValueError:
        return None


class FeedFirstSource:
    """A ``Source`` that lists a channel from its RSS feed and does the rest with ``inner``."""

    def __init__(
        self,
        inner: Source,
        channel: str,
        *,
        allow_private: bool,
        timeout: float = 30.0,
        feed_url: str = FEED_URL,
    ) -> None:
        self._inner, self._channel, self._timeout = inner, channel, timeout
        self._guard = URLGuard(allow_private=allow_private)
        self._feed = f"{feed_url}?channel_id={channel}"

    def resolve(
        self, source: str, *, limit: int | None = None, since: date | None = None
    ) -> list[MediaItem]:
        try:
            items = parse_feed(self._download(), source)
        except CastgraphError as exc:
            log.warning("channel feed failed, listing with yt-dlp", extra={"error": str(exc)})
            return self._inner.resolve(source, limit=limit, since=since)
        if since is not None:
            items = [i for i in items if i.published is None or i.published >= since]
        log.info("resolved %s from its feed: %d item(s)", source, len(items))
        return items if limit is None else items[:limit]

    def _download(self) -> bytes:
        import httpx

        self._guard(self._feed, what="channel feed")
        try:
            with httpx.stream("GET", self._feed, timeout=self._timeout) as response:
                if response.status_code != 200:
                    raise SourceError(f"{self._feed}: HTTP {response.status_code}")
                data = b""
                for chunk in response.iter_bytes():
                    data += chunk
                    if len(data) > _MAX_FEED_BYTES:
                        raise SourceError(f"{self._feed}: the feed is too large")
                return data
        except httpx.HTTPError as exc:
            raise SourceError(f"{self._feed}: network error: {exc}") from exc

    def details(self, item: MediaItem) -> MediaItem:
        return self._inner.details(item)

    def fetch(
        self, item: MediaItem, dest_dir: Path, progress: ProgressCallback | None = None
    ) -> Path:
        return self._inner.fetch(item, dest_dir, progress)


def feed_first(
    source: Source, text: str, *, allow_private: bool, timeout: float, feed_url: str = FEED_URL
) -> Source:
    """``source`` wrapped to list ``text`` from its channel feed, when ``text`` names one."""
    channel = channel_id(text)
    if channel is None:
        return source
    return FeedFirstSource(
        source, channel, allow_private=allow_private, timeout=timeout, feed_url=feed_url
    )
