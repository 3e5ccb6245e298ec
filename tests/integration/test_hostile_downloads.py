"""Download limits with the real yt-dlp against a loopback server (issue 13): an oversized file
is stopped mid-download and its partial file removed, with or without ``Content-Length``; media
whose metadata says it is too long is never downloaded; a refused item fails on its own and the
run goes on."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from castgraph.api import wiring
from castgraph.catalog import SqlCatalog
from castgraph.core.errors import SourceError
from castgraph.core.models import Diarization, Segment, Transcript, Word
from castgraph.core.ports import Source
from castgraph.core.settings import Settings
from castgraph.ingest.failures import classify
from castgraph.ingest.pipeline import IngestOptions, IngestPipeline, Stages

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
BIG = 64 * MIB  # served (more than loopback sockets buffer); the limit in these tests is 1 MiB
BLOCK = b"\xff\xfb\x90\x00" * (16 * 1024)  # 64 KiB


class Server:
    """Loopback HTTP: ``/big.mp3`` with ``Content-Length``, ``/stream.mp3`` without (the body
    ends when the connection closes), ``files`` (a feed); counts requests per path and the
    bytes sent by each request."""

    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        self.sent: dict[str, list[int]] = {}
        self.files: dict[str, bytes] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # a body without length ends with the connection

            def do_GET(self) -> None:
                outer.hits[self.path] = outer.hits.get(self.path, 0) + 1
                if self.path in outer.files:
                    body = outer.files[self.path]
                    kind = "audio/mpeg" if self.path.endswith(".mp3") else "application/rss+xml"
                    self._send([body], len(body), kind)
                elif self.path in ("/big.mp3", "/stream.mp3"):
                    length = BIG if self.path == "/big.mp3" else None
                    self._send([BLOCK] * (BIG // len(BLOCK)), length, "audio/mpeg")
                else:
                    self.send_error(404)

            def _send(self, blocks: list[bytes], length: int | None, kind: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", kind)
                if length is not None:
                    self.send_header("Content-Length", str(length))
                self.end_headers()
                sent = outer.sent.setdefault(self.path, [])
                sent.append(0)
                try:
                    for block in blocks:
                        self.wfile.write(block)
                        sent[-1] += len(block)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading: what the limit is for

            def log_message(self, *_args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    def feed(self, items: list[tuple[str, str, float]]) -> str:
        """An RSS feed of (title, path, declared seconds) items; returns its URL."""
        when = format_datetime(datetime(2024, 3, 1, tzinfo=UTC))
        entries = "".join(
            f"<item><title>{title}</title><guid>urn:{path}</guid><pubDate>{when}</pubDate>"
            f"<itunes:duration>{round(seconds)}</itunes:duration>"
            f'<enclosure url="{self.url}{path}" type="audio/mpeg" length="0"/></item>'
            for title, path, seconds in items
        )
        self.files["/feed.xml"] = (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
            'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel>'
            f"<title>Hostile</title><link>{self.url}/</link><description>d</description>"
            f"{entries}</channel></rss>"
        ).encode()
        return f"{self.url}/feed.xml"


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    running._thread.start()
    try:
        yield running
    finally:
        running._httpd.shutdown()
        running._httpd.server_close()


def _source(tmp_path: Path, url: str, **limits: Any) -> Source:
    settings = Settings(data_dir=tmp_path / "data", allow_private_urls=True, **limits)
    ((_, source),) = wiring.sources(settings, [url])
    return source


@pytest.mark.parametrize("path", ["/big.mp3", "/stream.mp3"])
def test_an_oversized_download_is_stopped_and_its_partial_file_removed(
    server: Server, tmp_path: Path, path: str
) -> None:
    url = server.url + path
    source = _source(tmp_path, url, max_download_bytes=MIB)
    (item,) = source.resolve(url)
    dest = tmp_path / "media"
    with pytest.raises(SourceError, match="CASTGRAPH_MAX_DOWNLOAD_BYTES") as refused:
        source.fetch(item, dest)
    assert "larger than the limit of 1.0 MiB" in str(refused.value)
    assert classify(str(refused.value)) == "limit"  # permanent: never retried as it is
    assert list(dest.iterdir()) == []  # no partial file left
    assert max(server.sent[path]) < BIG  # every request stopped before the end


def test_media_declared_too_long_is_never_downloaded(server: Server, tmp_path: Path) -> None:
    feed = server.feed([("Ten hours", "/big.mp3", 10 * 3600)])
    source = _source(tmp_path, feed)  # the default limit: 6 hours
    (item,) = source.resolve(feed)
    assert item.duration == 36000
    with pytest.raises(SourceError, match=r"lasts 10:00:00, longer than .*6:00:00"):
        source.fetch(item, tmp_path / "media")
    assert "/big.mp3" not in server.hits  # not one request for the media


class _Transcriber:
    def load(self) -> None:
        pass

    def transcribe(self, wav_path: Path, **_kwargs: Any) -> Transcript:
        words = (Word("hola", 0.0, 0.5), Word("pan", 1.0, 1.5))
        return Transcript("es", (Segment(0.0, 1.5, "hola pan", None, words),), 2.0)


def _stages() -> Stages:
    def extract(src: Path, dst: Path) -> float:
        dst.write_bytes(b"wav")
        return 2.0

    def assign(transcript: Transcript, _diarization: Diarization | None) -> Transcript:
        return transcript

    return Stages(
        transcriber=_Transcriber(),
        diarizer=None,
        extract_wav=extract,
        is_silent=lambda _p: False,
        assign_speakers=assign,
        name_speakers=None,
    )


def test_a_refused_item_fails_on_its_own_and_the_run_goes_on(
    server: Server, tmp_path: Path
) -> None:
    server.files["/short.mp3"] = BLOCK
    feed = server.feed([("Too long", "/big.mp3", 7 * 3600), ("Short", "/short.mp3", 60)])
    catalog = SqlCatalog(f"sqlite:///{tmp_path / 'catalog.db'}").open()
    try:
        pipeline = IngestPipeline(catalog, _stages(), tmp_path / "media")
        report = pipeline.run([(feed, _source(tmp_path, feed))], IngestOptions())
        errors = {e.title: e.error for e in catalog.list_episodes()}
    finally:
        catalog.close()
    assert [e.title for e in report.indexed] == ["Short"]
    assert [e.title for e in report.failed] == ["Too long"]
    assert "longer than the limit of 6:00:00 (CASTGRAPH_MAX_DURATION_S)" in str(errors["Too long"])
    assert not list((tmp_path / "media").rglob("*big*"))
