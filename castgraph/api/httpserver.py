"""``castgraph serve``'s HTTP protocol: uvicorn's httptools protocol with two changes (issue 13).

- A request whose headers have not all arrived ``CASTGRAPH_CLIENT_TIMEOUT_S`` after it began
  (or after the connection opened) gets 408 and its connection is closed. uvicorn has no such
  timeout: a client trickling headers a byte at a time would hold its connection for ever, and
  enough of them would use up the server's file descriptors. (A slow *body* is bounded by
  ``castgraph.api.limits``; an idle kept-alive connection by uvicorn's keep-alive timeout.)
- A request the HTTP parser cannot parse (raw non-ASCII bytes in the request line, a malformed
  header, a request line too long for the parser) gets castgraph's JSON error body instead of
  uvicorn's ``text/plain`` "Invalid HTTP request received.".

Both touch only uvicorn's connection-level hooks; uvicorn is pinned in ``pyproject.toml``.
"""

from __future__ import annotations

import asyncio
import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_REASONS = {400: b"Bad Request", 408: b"Request Timeout"}


def _raw_response(status: int, message: str) -> bytes:
    body = json.dumps({"detail": message}).encode()
    head = [
        b"HTTP/1.1 %d %s" % (status, _REASONS[status]),
        b"content-type: application/json",
        b"content-length: %d" % len(body),
        b"connection: close",
    ]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class CastgraphHttpProtocol(HttpToolsProtocol):
    """uvicorn's protocol with a deadline on request headers and JSON parse errors."""

    header_timeout_s = 30.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        self._disarm()
        detail = f"malformed HTTP request ({msg.rstrip('.')}): check the request line and headers"
        self.transport.write(_raw_response(400, detail))
        self.transport.close()

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        message = (
            f"the request headers did not arrive within {self.header_timeout_s:g} s "
            "(CASTGRAPH_CLIENT_TIMEOUT_S)"
        )
        self.logger.info("request headers too slow; connection closed")
        self.transport.write(_raw_response(408, message))
        self.transport.close()


def http_protocol(header_timeout_s: float) -> type[CastgraphHttpProtocol]:
    """The protocol class for ``uvicorn.run(http=…)``, with this server's header deadline."""
    return type(
        "CastgraphHttpProtocol",
        (CastgraphHttpProtocol,),
        {"header_timeout_s": header_timeout_s},
    )
