"""Everything yt-dlp understands: videos, playlists, channels, RSS feeds, pages with media.

Resolution is flat (one request for a whole feed or channel); ``details`` completes one item
with a full extraction (exact date, duration, human captions). Every URL yt-dlp requests goes
through the URL guard (see ``urlguard``), including redirect targets and feed enclosures.

Source ids are ``"<extractor key, lower-cased>:<id>"``: ``youtube:<video id>``; an RSS item's
``<guid>`` (``generic:<guid>``); for media known only by its URL (direct links, ``<audio>``/
``<video>`` on a page) yt-dlp's name-based id plus a hash of the URL's host and path, so that
two ``audio.mp3`` on different paths differ while a re-run yields the same id.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Any

import yt_dlp
from yt_dlp.networking.exceptions import NoSupportingHandlers
from yt_dlp.utils import determine_ext, unsmuggle_url

from castgraph.core.errors import CastgraphError, SourceError
from castgraph.core.models import MediaItem
from castgraph.core.ports import ProgressCallback
from castgraph.ingest.sources import connectguard, limits, ytdlp_info
from castgraph.ingest.sources.tuning import YtDlpTuning
from castgraph.ingest.sources.urlguard import URLGuard

log = logging.getLogger(__name__)

_CAPTION_FORMATS = ("vtt", "srt")
_MAX_URL_HOPS = 5


class _Logger:
    """yt-dlp's ``logger`` param: its chatter goes to logging at debug level.

    Errors are raised to castgraph as exceptions, so they are logged at debug level here too.
    """

    _NOISE = ("generic information extractor", "could be a direct video link")

    def debug(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)

    def info(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)

    def warning(self, msg: str) -> None:
        level = logging.DEBUG if any(n in msg for n in self._NOISE) else logging.WARNING
        log.log(level, "yt-dlp: %s", msg)

    def error(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)


class _GuardedYoutubeDL(yt_dlp.YoutubeDL):  # type: ignore[misc]
    """A YoutubeDL whose every HTTP request passes the guard, and whose every connection does
    (redirect hops and connection-time DNS answers included: see ``connectguard``)."""

    def __init__(self, params: dict[str, Any], guard: URLGuard) -> None:
        self._guard = guard
        # Through a proxy, the proxy connects: the check would see (and refuse) a local proxy.
        self._check_connections = not params.get("proxy")
        connectguard.install()
        super().__init__(params)

    def urlopen(self, req: Any) -> Any:
        if self._guard.allow_private:
            return super().urlopen(req)
        url = req if isinstance(req, str) else getattr(req, "url", None) or req.get_full_url()
        self._guard(str(url), what="request")
        response = self._send(req, str(url))
        final = getattr(response, "url", None)
        if final and final != url:
            try:
                self._guard(str(final), what=f"redirect from {url} to")
            except CastgraphError:
                response.close()
                raise
        return response

    def _send(self, req: Any, url: str) -> Any:
        if not self._check_connections:
            return super().urlopen(req)
        try:
            with connectguard.active(self._guard, url):
                return super().urlopen(req)
        except NoSupportingHandlers as exc:  # yt-dlp tried each backend: each was refused
            refused = next(
                (e for e in exc.unexpected_errors if isinstance(e, CastgraphError)), None
            )
            if refused is None:
                raise
            raise refused from exc


class YtDlpSource:
    """A ``Source`` backed by yt-dlp; no network until ``resolve``/``details``/``fetch``.

    ``captions_langs`` keeps only those caption languages (``"en"`` also matches ``"en-US"``);
    None keeps every human-made one. Auto-generated captions are never listed.
    """

    def __init__(
        self,
        *,
        allow_private: bool,
        timeout: float = 60.0,
        captions_langs: Sequence[str] | None = None,
        tuning: YtDlpTuning | None = None,
    ) -> None:
        self.allow_private = allow_private
        self.timeout = timeout
        self.captions_langs = tuple(captions_langs) if captions_langs is not None else None
        self.tuning = tuning or YtDlpTuning()

    def resolve(
        self, source: str, *, limit: int | None = None, since: date | None = None
    ) -> list[MediaItem]:
        """The items of ``source``, oldest first.

        ``since`` drops items published before that date (items without a date get one by a full
        extraction, newest first, stopping at the first older one); ``limit`` then keeps the
        first (oldest) N. Callers that skip already-ingested items should pass ``limit=None``
        and apply their limit after that filter. Dates of YouTube channel entries are
        approximate ("3 weeks ago"), never later than the real date; ``details`` has the exact
        one.
        """
        guard = URLGuard(allow_private=self.allow_private)
        guard(source, what="source")
        with self._ydl(guard) as ydl:
            info = self._extract(ydl, source, guard)
            if info.get("_type") == "playlist":
                try:  # a channel's entries are fetched page by page while iterating
                    entries = list(ytdlp_info.flat_entries(info))
                except Exception as e:
                    raise ytdlp_info.wrap(e, source) from e
                items = self._playlist_items(entries, info, source, guard)
                newest_first = _lists_newest_first(source, entries)
            else:
                reason = ytdlp_info.skip_reason(info)
                if reason:
                    raise SourceError(f"{source}: {reason}; try again later")
                items, newest_first = [self._info_item(info, origin=source)], False
        items = order_items(items, newest_first=newest_first)
        if since is not None:
            items = self._since(items, since)
        log.info("resolved %s: %d item(s)", source, len(items))
        return items if limit is None else items[: max(0, limit)]

    def details(self, item: MediaItem) -> MediaItem:
        """``item`` completed by a full extraction: exact date, duration, human captions.

        Keeps the item's source id (and its feed title and date, which beat a media file's).
        """
        guard = URLGuard(allow_private=self.allow_private)
        guard(item.url, what="item URL")
        with self._ydl(guard) as ydl:
            info = self._extract(ydl, item.url, guard)
        if info.get("_type") == "playlist":
            entries = [e for e in info.get("entries") or [] if isinstance(e, dict)]
            info = entries[0] if entries else info
        full = self._info_item(info, origin=item.origin)
        by_url = str(info.get("extractor_key", "")).lower() in ytdlp_info.URL_DERIVED_IDS
        first, second = (item, full) if by_url else (full, item)
        return replace(
            item,
            title=first.title or second.title,
            duration=full.duration or item.duration,
            published=first.published or second.published,
            captions=full.captions or item.captions,
            description=ytdlp_info.join_text([item.description, full.description]),
        )

    def fetch(
        self, item: MediaItem, dest_dir: Path, progress: ProgressCallback | None = None
    ) -> Path:
        """Download the item's best audio (or best format) into ``dest_dir``; return the file.

        The file is named after the source id, so a second fetch finds it and downloads nothing.
        """
        guard = URLGuard(allow_private=self.allow_private)
        guard(item.url, what="item URL")
        limits.check_duration(item.duration, self.tuning.max_duration, item.url)
        dest_dir.mkdir(parents=True, exist_ok=True)
        stem = ytdlp_info.file_stem(item.source_id)
        done = ytdlp_info.finished_download(dest_dir, stem)
        if done is not None:
            log.info("already downloaded %s: %s", item.url, done)
            if progress is not None:
                progress(float(done.stat().st_size), float(done.stat().st_size))
            return done

        def hook(status: dict[str, Any]) -> None:
            if progress is not None and status.get("status") in ("downloading", "finished"):
                done = float(status.get("downloaded_bytes") or 0)
                total = status.get("total_bytes") or status.get("total_bytes_estimate") or done
                progress(done, float(total))

        params = {
            # Only http(s) formats when private URLs are refused: HLS/RTMP/RTSP downloads are
            # handed to ffmpeg or rtmpdump, whose requests the guard cannot see.
            "format": "bestaudio/best"
            if self.allow_private
            else "bestaudio[protocol^=http]/best[protocol^=http]",
            "outtmpl": {"default": str(dest_dir / f"{stem}.%(ext)s")},
            "noplaylist": True,
            "playlist_items": "1",
            "progress_hooks": [limits.size_hook(self.tuning.max_bytes, item.url), hook],
            "match_filter": limits.duration_filter(self.tuning.max_duration, item.url),
            "postprocessors": [],
            "fixup": "never",
            "updatetime": False,
        }
        with self._ydl(guard, **params) as ydl:
            try:
                info = ydl.extract_info(item.url, download=True)
            except Exception as e:
                error = ytdlp_info.wrap(e, item.url)
                if isinstance(error, limits.LimitError):  # else a .part is kept for resuming
                    limits.remove_partials(dest_dir, stem)
                raise error from e
        path = ytdlp_info.downloaded_path(info)
        if path is None or not path.is_file():
            raise ytdlp_info.nothing_downloaded(item.url)
        log.info("downloaded %s to %s", item.url, path)
        return path

    # -- helpers -------------------------------------------------------------------------------

    def _ydl(self, guard: URLGuard, **extra: Any) -> _GuardedYoutubeDL:
        params: dict[str, Any] = {
            "quiet": True,
            "noprogress": True,
            "logger": _Logger(),
            "socket_timeout": self.timeout,
            "extract_flat": "in_playlist",
            "extractor_args": {
                "youtubetab": {"approximate_date": [""]},
                "youtube": self.tuning.youtube_args(),
            },
            "retries": 3,
            "color": {"stdout": "no_color", "stderr": "no_color"},
            **self.tuning.params(),
            **extra,
        }
        ffmpeg = _ffmpeg_location()
        if ffmpeg:
            params["ffmpeg_location"] = ffmpeg
        return _GuardedYoutubeDL(params, guard)

    def _extract(self, ydl: _GuardedYoutubeDL, url: str, guard: URLGuard) -> dict[str, Any]:
        """``extract_info(process=False)``, following url results (each one guarded)."""
        info: dict[str, Any] = {"_type": "url", "url": url}
        extra: dict[str, Any] = {}
        for _ in range(_MAX_URL_HOPS):
            if info.get("_type") not in ("url", "url_transparent"):
                break
            if info.get("_type") == "url_transparent":
                extra.update({k: v for k, v in info.items() if v is not None})
            target = str(info["url"])
            guard(unsmuggle_url(target)[0], what="URL")
            try:
                info = ydl.extract_info(
                    target, download=False, process=False, ie_key=info.get("ie_key")
                )
            except Exception as e:
                raise ytdlp_info.wrap(e, url) from e
        else:
            if info.get("_type") in ("url", "url_transparent"):
                raise SourceError(f"{url}: more than {_MAX_URL_HOPS} redirects; check the link")
        for key in ("_type", "url", "ie_key", "id"):
            extra.pop(key, None)
        return {**info, **{k: v for k, v in extra.items() if not info.get(k)}}

    def _playlist_items(
        self, entries: list[dict[str, Any]], info: dict[str, Any], origin: str, guard: URLGuard
    ) -> list[MediaItem]:
        items: dict[str, MediaItem] = {}
        for entry in entries:
            skip = ytdlp_info.skip_reason(entry)
            if skip:
                log.info("skipping %s: %s", entry.get("title") or entry.get("url"), skip)
                continue
            item = self._info_item(entry, origin=origin, parent=info)
            try:
                guard(item.url, what=f"feed item {item.title!r}")
            except CastgraphError as exc:
                # Kept: details()/fetch() guard it again, so the episode fails with this message
                # and the feed's other items go on.
                log.warning("unsafe feed item", extra={"item": item.title, "error": str(exc)})
            items.setdefault(item.source_id, item)
        return list(items.values())

    def _info_item(
        self, info: dict[str, Any], *, origin: str, parent: dict[str, Any] | None = None
    ) -> MediaItem:
        key, ident, url = ytdlp_info.identity(info, parent)
        title = str(info.get("title") or "").strip()
        if key == "html5mediaembed" and parent is None:
            title = re.sub(r" \(1\)$", "", title)
        return MediaItem(
            source_id=f"{key}:{ident}",
            url=url,
            title=title or ident,
            duration=ytdlp_info.positive_float(info.get("duration")),
            published=ytdlp_info.published_date(info)
            or (ytdlp_info.published_date(parent) if parent and "formats" in info else None),
            origin=origin,
            captions=self._captions(info),
            description=ytdlp_info.description(info, parent),
        )

    def _captions(self, info: dict[str, Any]) -> dict[str, str]:
        """``{lang: url}`` of human subtitles in vtt or srt; never ``automatic_captions``."""
        found: dict[str, str] = {}
        for lang, formats in (info.get("subtitles") or {}).items():
            if lang == "live_chat" or not isinstance(formats, list) or not self._wanted(lang):
                continue
            by_ext = {
                str(f.get("ext") or determine_ext(str(f.get("url", "")))).lower(): str(f["url"])
                for f in formats
                if isinstance(f, dict) and f.get("url")
            }
            url = next((by_ext[e] for e in _CAPTION_FORMATS if e in by_ext), None)
            if url:
                found[str(lang)] = url
        return found

    def _wanted(self, lang: str) -> bool:
        if self.captions_langs is None:
            return True
        base = lang.split("-")[0].lower()
        return any(w.lower() in (lang.lower(), base) for w in self.captions_langs)

    def _since(self, items: list[MediaItem], since: date) -> list[MediaItem]:
        kept: list[MediaItem] = []
        for item in reversed(items):
            if item.published is None:
                try:
                    item = self.details(item)
                except CastgraphError as e:
                    log.warning("could not get the date of %s: %s", item.url, e)
            if item.published is not None and item.published < since:
                break
            kept.append(item)
        return kept[::-1]


def order_items(items: list[MediaItem], *, newest_first: bool) -> list[MediaItem]:
    """Oldest first. Dated items sort by date; an undated one stays after its listed neighbour.

    The list's direction comes from its dated items when they agree, else from
    ``newest_first`` (RSS feeds and channel pages list the newest first).
    """
    dates = [i.published for i in items if i.published is not None]
    rising = sum(a < b for a, b in pairwise(dates))
    falling = sum(a > b for a, b in pairwise(dates))
    if rising != falling:
        newest_first = falling > rising
    seq = items[::-1] if newest_first else list(items)
    keys: list[date] = []
    last = date.min
    for item in seq:
        last = item.published or last
        keys.append(last)
    return [seq[i] for i in sorted(range(len(seq)), key=keys.__getitem__)]


def _lists_newest_first(source: str, entries: list[dict[str, Any]]) -> bool:
    """Feeds and channels list the newest first; playlists and pages list in their own order."""
    by_reference = any(e.get("_type") in ("url", "url_transparent") for e in entries)
    return by_reference and not re.search(r"[?&]list=|/playlist\b", source)


def _ffmpeg_location() -> str | None:
    from castgraph.ingest.audio import ffmpeg_binary

    try:
        return ffmpeg_binary()
    except CastgraphError:
        return None
