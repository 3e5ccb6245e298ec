"""A local HTTP media server for tests: files, RSS feeds and HTML pages on 127.0.0.1.

Use the ``media_server`` fixture (import it into a test module, or list this module in
``pytest_plugins``)::

    from tests.mediaserver import FeedEpisode, MediaServer, media_server  # noqa: F401

    def test_feed(media_server: MediaServer) -> None:
        media_server.add_file("ep1.mp3", mp3_bytes)
        url = media_server.write_rss("feed.xml", [FeedEpisode("One", "ep1.mp3", datetime(...))])

The server is a plain threaded ``http.server`` over a temporary folder; URLs that are not
files answer 404, and ``add_redirect`` makes a path answer 302 to any URL.
"""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import partial
from html import escape as html_escape
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

import pytest

log = logging.getLogger(__name__)

MIME_TYPES = {
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".opus": "audio/ogg",
    ".ogg": "audio/ogg",
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".vtt": "text/vtt",
    ".srt": "application/x-subrip",
    ".xml": "application/rss+xml",
    ".rss": "application/rss+xml",
    ".html": "text/html; charset=utf-8",
}


@dataclass(frozen=True)
class FeedEpisode:
    """One ``<item>`` of an RSS feed; ``file`` is a name under the server root."""

    title: str
    file: str
    published: datetime | None = None
    duration: float | None = None
    guid: str | None = None
    mime: str = "audio/mpeg"


@dataclass(frozen=True)
class PageMedia:
    """One ``<audio>``/``<video>`` element of an HTML page, with optional subtitle tracks."""

    file: str
    tag: str = "audio"
    mime: str = "audio/mpeg"
    subtitles: dict[str, str] = field(default_factory=dict)
    """``{srclang: vtt file name}``, written as ``<track kind="subtitles">``."""


class _Handler(SimpleHTTPRequestHandler):
    """Serves the root folder quietly, with redirects and test-friendly content types."""

    def __init__(
        self,
        *args: Any,
        redirects: dict[str, str],
        statuses: dict[str, tuple[int, str]] | None = None,
        **kwargs: Any,
    ) -> None:
        self._redirects = redirects
        self._statuses = statuses if statuses is not None else {}
        self.extensions_map = {**SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}
        super().__init__(*args, **kwargs)

    def send_head(self) -> Any:
        target = self._redirects.get(self.path)
        if target is not None:
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        answer = self._statuses.get(self.path)
        if answer is not None:  # e.g. 429 Too Many Requests, or a bot-check page
            code, body = answer
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            return io.BytesIO(data)
        return super().send_head()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("media server: " + format, *args)


class _QuietServer(ThreadingHTTPServer):
    """Logs client disconnects (yt-dlp reads 512 bytes of a file, then hangs up) at debug."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("media server: client %s went away", client_address, exc_info=True)


class MediaServer:
    """A threaded HTTP server over ``root`` on ``127.0.0.1`` and a free port."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.redirects: dict[str, str] = {}
        self.statuses: dict[str, tuple[int, str]] = {}
        handler = partial(
            _Handler, directory=str(root), redirects=self.redirects, statuses=self.statuses
        )
        self._httpd = _QuietServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(
            target=partial(self._httpd.serve_forever, poll_interval=0.05), daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, name: str) -> str:
        """The URL of ``name`` (a path under the root, ``/``-separated)."""
        return f"{self.base_url}/{name.lstrip('/')}"

    def start(self) -> MediaServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def add_file(self, name: str, data: bytes | str) -> str:
        """Write ``data`` at ``name`` under the root and return its URL."""
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
        return self.url(name)

    def copy_in(self, src: Path, name: str | None = None) -> str:
        """Copy a file under the root (as ``name``, default its own name) and return its URL."""
        name = name or src.name
        (self.root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, self.root / name)
        return self.url(name)

    def add_redirect(self, path: str, target: str) -> str:
        """Make ``path`` answer ``302 Location: target``; returns the redirecting URL."""
        self.redirects["/" + path.lstrip("/")] = target
        return self.url(path)

    def add_status(self, path: str, code: int, body: str = "") -> str:
        """Make ``path`` answer ``code`` with ``body`` (HTML); returns its URL."""
        self.statuses["/" + path.lstrip("/")] = (code, body)
        return self.url(path)

    def write_rss(
        self, name: str, episodes: Sequence[FeedEpisode], *, title: str = "Test podcast"
    ) -> str:
        """Write an RSS 2.0 podcast feed listing ``episodes`` in the given order."""
        items = "".join(self._rss_item(ep) for ep in episodes)
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">'
            f"<channel><title>{xml_escape(title)}</title><link>{self.base_url}/</link>"
            f"<description>A feed for tests</description>{items}</channel></rss>\n"
        )
        return self.add_file(name, xml)

    def _rss_item(self, ep: FeedEpisode) -> str:
        guid = f'<guid isPermaLink="false">{xml_escape(ep.guid)}</guid>' if ep.guid else ""
        duration = (
            f"<itunes:duration>{round(ep.duration)}</itunes:duration>"
            if ep.duration is not None
            else ""
        )
        published = ""
        if ep.published is not None:
            when = ep.published if ep.published.tzinfo else ep.published.replace(tzinfo=UTC)
            published = f"<pubDate>{format_datetime(when)}</pubDate>"
        return (
            f"<item><title>{xml_escape(ep.title)}</title>{guid}{published}{duration}"
            f'<enclosure url="{xml_escape(self.url(ep.file))}" type="{ep.mime}" length="0"/>'
            "</item>"
        )

    def write_page(self, name: str, title: str, media: Sequence[PageMedia]) -> str:
        """Write an HTML page with one ``<audio>``/``<video>`` element per ``media``."""
        elements = []
        for m in media:
            tracks = "".join(
                f'<track kind="subtitles" srclang="{lang}" src="{html_escape(src)}">'
                for lang, src in m.subtitles.items()
            )
            elements.append(
                f'<{m.tag} controls><source src="{html_escape(m.file)}" type="{m.mime}">'
                f"{tracks}</{m.tag}>"
            )
        html = (
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html_escape(title)}"
            f"</title></head><body><h1>{html_escape(title)}</h1>{''.join(elements)}</body></html>"
        )
        return self.add_file(name, html)


def make_tone(path: Path, *, seconds: float = 2.0, freq: int = 440, ffmpeg: str = "ffmpeg") -> Path:
    """Synthesise a sine tone with ffmpeg; the container/codec follow ``path``'s suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [ffmpeg, "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi",
         "-i", f"sine=frequency={freq}:duration={seconds}:sample_rate=44100", str(path)],
        check=True,
    )  # fmt: skip
    return path


def transcode(
    src: Path, dst: Path, *, ffmpeg: str = "ffmpeg", seconds: float | None = None
) -> Path:
    """Convert ``src`` to ``dst`` (format from the suffix), optionally cut to ``seconds``."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    cut = ["-t", str(seconds)] if seconds is not None else []
    subprocess.run(
        [ffmpeg, "-nostdin", "-loglevel", "error", "-y", "-i", str(src), *cut, "-vn", str(dst)],
        check=True,
    )
    return dst


def alias_public_host(
    monkeypatch: pytest.MonkeyPatch, host: str = "public.test", public_ip: str = "93.184.216.34"
) -> str:
    """Make ``host`` look public to castgraph's URL guard while connections go to 127.0.0.1.

    Its connections are declared public too (the guard checks the address each socket connects
    to). Lets tests serve a "public" feed from the local server with ``allow_private=False``:
    ``media_server.url(...).replace("127.0.0.1", host)``.
    """
    from castgraph.ingest.sources import urlguard

    real_resolver = urlguard.system_resolver
    real_peer_reason = urlguard.peer_reason
    real_getaddrinfo = socket.getaddrinfo

    def guard_view(name: str, port: int, *args: Any) -> Any:
        if name == host:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (public_ip, port))]
        return real_resolver(name, port, *args)

    def connect_view(name: Any, *args: Any, **kwargs: Any) -> Any:
        return real_getaddrinfo("127.0.0.1" if name == host else name, *args, **kwargs)

    def peer_view(name: str, address: str) -> str | None:
        # connections to ``host`` go to 127.0.0.1: the stand-in for a public server
        return None if name == host else real_peer_reason(name, address)

    monkeypatch.setattr(urlguard, "system_resolver", guard_view)
    monkeypatch.setattr(urlguard, "peer_reason", peer_view)
    monkeypatch.setattr(socket, "getaddrinfo", connect_view)
    return host


@pytest.fixture
def media_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaServer]:
    """A running :class:`MediaServer` over a fresh temporary folder, stopped afterwards."""
    server = MediaServer(tmp_path_factory.mktemp("media-server")).start()
    try:
        yield server
    finally:
        with contextlib.suppress(Exception):
            server.stop()
