"""The URL guard where sockets connect: yt-dlp's connections and the captions download.

Checking URLs is not enough: an HTTP layer follows a redirect inside one request before the
caller sees the final URL, and a name may resolve to a public address for the guard and to
127.0.0.1 a moment later for the connection (DNS rebinding). So where a socket is opened, the
name is resolved once, every address is checked, and the socket connects to a checked address
(never to a second lookup's answer); a refused one is never connected to and no request byte is
sent.

yt-dlp's HTTP backends open sockets with ``urllib3.util.connection.create_connection``
(requests) and ``yt_dlp.networking._helper.create_connection`` (urllib, SOCKS). ``install``
wraps those (once, idempotently); the wrapper checks only while a guard is active in the calling
context (``active``) and does exactly what the library did otherwise. The guard is active only
around yt-dlp's ``urlopen`` (connections are opened there, redirect hops included) and only
without a proxy (then the proxy connects, not castgraph).
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import urllib.request
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from castgraph.ingest.sources.urlguard import URLGuard

_ACTIVE: ContextVar[tuple[URLGuard, str] | None] = ContextVar(
    "castgraph_connect_guard", default=None
)
_INSTALLED = False
_Socket = Any


@contextlib.contextmanager
def active(guard: URLGuard, origin: str) -> Iterator[None]:
    """Check the connections opened in this context against ``guard`` (``origin``: the URL
    requested, named in the message when a redirect led elsewhere)."""
    token = _ACTIVE.set(None if guard.allow_private else (guard, origin))
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def install() -> None:
    """Route yt-dlp's socket connections through the check (safe to call more than once)."""
    global _INSTALLED
    if _INSTALLED:
        return
    import urllib3.util.connection as urllib3_connection
    from yt_dlp.networking import _helper, _requests, _urllib

    urllib3_connection.create_connection = pinned(urllib3_connection.create_connection, _ACTIVE.get)
    wrapped = pinned(_helper.create_connection, _ACTIVE.get)
    for module in (_requests, _urllib):
        if getattr(module, "create_connection", None) is _helper.create_connection:
            module.create_connection = wrapped
    _INSTALLED = True


def pinned(
    create: Callable[..., _Socket], current: Callable[[], tuple[URLGuard, str] | None]
) -> Callable[..., _Socket]:
    """``create`` (a ``create_connection(address, ...)``) made to connect only to addresses that
    ``current()``'s guard accepts, resolved once; unchanged while ``current()`` is None."""

    def create_connection(address: tuple[Any, int], *args: Any, **kwargs: Any) -> _Socket:
        check = current()
        if check is None:
            return create(address, *args, **kwargs)
        guard, origin = check
        host, port = str(address[0]), address[1]
        peers: list[str] = []
        for info in socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM):
            peer = str(info[4][0])
            guard.check_peer(host, peer, origin=origin)  # raised: not an OSError, never retried
            peers.append(peer)
        error: OSError | None = None
        for peer in dict.fromkeys(peers):
            try:
                return create((peer, port), *args, **kwargs)
            except OSError as exc:
                error = exc
        raise error or OSError(f"no address found for {host}")

    return create_connection


def urllib_handlers(guard: URLGuard, origin: str) -> list[urllib.request.BaseHandler]:
    """urllib HTTP(S) handlers whose connections are checked (for ``build_opener``)."""
    factory = pinned(socket.create_connection, lambda: (guard, origin))

    class Checked(http.client.HTTPConnection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._create_connection = factory  # set per instance by http.client itself

    class CheckedTLS(http.client.HTTPSConnection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._create_connection = factory

    plain, secure = Checked, CheckedTLS

    class Plain(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> Any:
            return self.do_open(plain, req)

    class Secure(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> Any:
            return self.do_open(secure, req, context=self._context)  # type: ignore[attr-defined]

    return [Plain(), Secure()]
