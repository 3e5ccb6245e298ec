"""A loopback HTTP server that records every path it is asked for: for tests that prove a
request never happens (a private service behind a redirect, a playlist ffmpeg must not fetch)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str]
    body: bytes
    content_type: str | None

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.send_response(200)
        if self.content_type:
            self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *_args: Any) -> None:
        pass


@contextmanager
def recording_server(
    body: bytes, content_type: str | None = None
) -> Iterator[tuple[str, list[str]]]:
    """(base URL, paths asked for) of a server answering every GET with ``body``."""
    hits: list[str] = []
    attributes = {"hits": hits, "body": body, "content_type": content_type}
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Recorder,), attributes))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()
