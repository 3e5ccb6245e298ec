"""The demo channel as a podcast: an RSS 2.0 feed and a small local HTTP server for it.

``feed.json`` (written by :func:`write_manifest`) holds what the feed needs, so a built demo folder
can be served on any port: the server renders ``/feed.xml`` on request with enclosure URLs under
its own address, and serves every other file statically, with single byte-range support (players
and yt-dlp seek in media with ``Range`` requests).
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import sys
import threading
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta, timezone
from email.utils import format_datetime
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path
from typing import Any, BinaryIO, cast

from castgraph.core.errors import InputError, StorageError

logger = logging.getLogger(__name__)

FEED_NAME = "feed.xml"
MANIFEST_NAME = "feed.json"
ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
ATOM_NS = "http://www.w3.org/2005/Atom"
_BUENOS_AIRES = timezone(timedelta(hours=-3))
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass(frozen=True, slots=True)
class FeedChannel:
    """Channel-level fields of the feed."""

    title: str
    description: str
    language: str
    link: str
    author: str


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One episode of the feed; ``filename`` is relative to the served folder."""

    guid: str
    title: str
    description: str
    published: date
    filename: str
    length: int
    mime: str
    duration: float
    language: str
    number: int


def render_feed(channel: FeedChannel, items: Sequence[FeedItem], base_url: str) -> bytes:
    """A podcast RSS 2.0 document (UTF-8 bytes) with enclosures under ``base_url``."""
    ET.register_namespace("itunes", ITUNES_NS)
    ET.register_namespace("atom", ATOM_NS)
    base = base_url if base_url.endswith("/") else base_url + "/"
    rss = ET.Element("rss", {"version": "2.0"})
    node = ET.SubElement(rss, "channel")
    _text(node, "title", channel.title)
    _text(node, "link", channel.link)
    _text(node, "description", channel.description)
    _text(node, "language", channel.language)
    ET.SubElement(
        node,
        f"{{{ATOM_NS}}}link",
        {"href": base + FEED_NAME, "rel": "self", "type": "application/rss+xml"},
    )
    _text(node, f"{{{ITUNES_NS}}}author", channel.author)
    _text(node, f"{{{ITUNES_NS}}}explicit", "false")
    if items:
        _text(node, "lastBuildDate", _rfc2822(max(i.published for i in items)))
    for item in sorted(items, key=lambda i: i.published, reverse=True):
        _item(node, item, base)
    ET.indent(rss)
    document: bytes = ET.tostring(rss, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def _item(channel: ET.Element, item: FeedItem, base: str) -> None:
    node = ET.SubElement(channel, "item")
    _text(node, "title", item.title)
    _text(node, "description", item.description)
    ET.SubElement(node, "guid", {"isPermaLink": "false"}).text = item.guid
    _text(node, "pubDate", _rfc2822(item.published))
    url = base + urllib.parse.quote(item.filename)
    ET.SubElement(node, "enclosure", {"url": url, "length": str(item.length), "type": item.mime})
    _text(node, f"{{{ITUNES_NS}}}duration", _hms(item.duration))
    _text(node, f"{{{ITUNES_NS}}}episode", str(item.number))
    _text(node, f"{{{ITUNES_NS}}}episodeType", "full")


def write_manifest(folder: Path, channel: FeedChannel, items: Sequence[FeedItem]) -> Path:
    """Write ``feed.json`` into ``folder``: what :func:`serve_demo` needs to render the feed."""
    payload = {
        "channel": asdict(channel),
        "items": [{**asdict(i), "published": i.published.isoformat()} for i in items],
    }
    path = folder / MANIFEST_NAME
    _write_atomic(path, json.dumps(payload, ensure_ascii=False, indent=2).encode("utf-8"))
    return path


def read_manifest(folder: Path) -> tuple[FeedChannel, list[FeedItem]]:
    """The channel and items stored in ``folder/feed.json``."""
    path = folder / MANIFEST_NAME
    if not path.is_file():
        raise InputError(f"{folder} is not a built demo folder ({MANIFEST_NAME} is missing)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        channel = FeedChannel(**data["channel"])
        items = [
            FeedItem(**{**raw, "published": date.fromisoformat(raw["published"])})
            for raw in data["items"]
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise StorageError(f"{path} is corrupt: {exc}") from exc
    return channel, items


def write_feed(folder: Path, base_url: str) -> Path:
    """Write ``folder/feed.xml`` from the manifest, with enclosures under ``base_url``."""
    channel, items = read_manifest(folder)
    path = folder / FEED_NAME
    _write_atomic(path, render_feed(channel, items, base_url))
    return path


@contextmanager
def serve_demo(folder: Path, port: int = 0) -> Iterator[str]:
    """Serve a built demo folder on 127.0.0.1 (port 0: a free one); yields the feed's URL."""
    folder = Path(folder).resolve()
    channel, items = read_manifest(folder)
    handler = partial(_DemoHandler, directory=str(folder))
    try:
        server = _DemoServer(("127.0.0.1", port), handler)
    except OSError as exc:
        raise InputError(
            f"cannot serve the demo feed on 127.0.0.1:{port} ({exc.strerror}): "
            "choose another port with --port, or 0 for any free one"
        ) from exc
    host, bound = server.server_address[:2]
    base_url = f"http://{host!s}:{bound}/"
    server.feed_bytes = render_feed(channel, items, base_url)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.1},
        name=f"castgraph-demo-{bound}",
        daemon=True,
    )
    thread.start()
    logger.info("serving %s at %s", folder, base_url)
    try:
        yield base_url + FEED_NAME
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class _DemoServer(ThreadingHTTPServer):
    """A threaded server that also holds the feed rendered for its own address."""

    daemon_threads = True
    feed_bytes: bytes = b""

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients (yt-dlp probing, browsers seeking) hang up mid-response all the time.
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError):
            logger.debug("demo client disconnected", extra={"client": str(client_address)})
            return
        logger.exception("demo server error", extra={"client": str(client_address)})


class _DemoHandler(SimpleHTTPRequestHandler):
    """Static files plus the rendered feed, with ``Range: bytes=a-b`` support for media."""

    extensions_map = {  # noqa: RUF012 - the base class declares it as a plain class attribute
        **SimpleHTTPRequestHandler.extensions_map,
        ".mp3": "audio/mpeg",
        ".m4a": "audio/mp4",
        ".opus": "audio/ogg",
        ".wav": "audio/wav",
        ".json": "application/json",
        ".xml": "application/xml",
    }
    _remaining: int | None = None

    def send_head(self) -> BinaryIO | None:
        self._remaining = None
        path = urllib.parse.urlsplit(self.path).path
        if path in ("/" + FEED_NAME, "/"):
            feed = cast(_DemoServer, self.server).feed_bytes
            return self._send_bytes(feed, "application/rss+xml; charset=utf-8")
        requested = self.headers.get("Range")
        file_path = Path(self.translate_path(self.path))
        if requested is None or not file_path.is_file():
            return super().send_head()
        return self._send_range(file_path, requested)

    def _send_bytes(self, body: bytes, content_type: str) -> BinaryIO:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return BytesIO(body)

    def _send_range(self, file_path: Path, requested: str) -> BinaryIO | None:
        size = file_path.stat().st_size
        bounds = parse_range(requested, size)
        if bounds is None:  # malformed or multi-range: ignore the header, as RFC 9110 allows
            return super().send_head()
        start, end = bounds
        if start >= size or start > end:
            self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        handle = file_path.open("rb")
        handle.seek(start)
        self.send_response(HTTPStatus.PARTIAL_CONTENT)
        self.send_header("Content-Type", self.guess_type(str(file_path)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Last-Modified", self.date_time_string(int(file_path.stat().st_mtime)))
        self.end_headers()
        self._remaining = end - start + 1
        return handle

    def end_headers(self) -> None:
        self.send_header("Accept-Ranges", "bytes")
        super().end_headers()

    def copyfile(self, source: Any, outputfile: Any) -> None:
        if self._remaining is None:
            shutil.copyfileobj(source, outputfile)
            return
        while self._remaining > 0:
            chunk = source.read(min(64 * 1024, self._remaining))
            if not chunk:
                break
            outputfile.write(chunk)
            self._remaining -= len(chunk)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("demo http: " + format, *args)


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` → inclusive (start, end); None if unusable."""
    match = _RANGE.match(header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":
        length = int(last)
        return (max(0, size - length), size - 1) if length else (size, size - 1)
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    return start, end


def _text(parent: ET.Element, tag: str, value: str) -> None:
    ET.SubElement(parent, tag).text = value


def _rfc2822(day: date) -> str:
    return format_datetime(datetime.combine(day, time(10, 0), tzinfo=_BUENOS_AIRES))


def _hms(seconds: float) -> str:
    total = round(seconds)
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def _write_atomic(path: Path, data: bytes) -> None:
    partial_path = path.with_name(path.name + ".part")
    partial_path.write_bytes(data)
    partial_path.replace(path)
