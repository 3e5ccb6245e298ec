"""The URL guard: castgraph fetches public http(s) URLs only, unless private ones are allowed.

A feed or page can point anywhere, so the guard runs on the user's URL and again on every item
URL, every request yt-dlp makes and every redirect target. A host is refused when it is, or
resolves to, a loopback, private, link-local, shared, reserved, multicast or unspecified address
(IPv4 and IPv6, including IPv4 addresses embedded in IPv6 ones). ``file://`` is refused too.

The names are checked again where the connection is made (``check_peer``, see ``connectguard``):
yt-dlp and the captions download check the address each socket is about to connect to, so a
redirect hop inside one request, or a name that resolves differently at connection time (DNS
rebinding), never reaches a private address. The channel feed (httpx, a fixed youtube.com URL
that follows no redirects) is checked by name only.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from castgraph.core.errors import InputError, SourceError, UnsafeURLError

log = logging.getLogger(__name__)

Resolver = Callable[..., Sequence[tuple[Any, ...]]]
"""Like ``socket.getaddrinfo``: ``(host, port, ...) -> [(family, type, proto, name, addr)]``."""

WEB_SCHEMES = ("http", "https")
_HOW_TO_ALLOW = "set CASTGRAPH_ALLOW_PRIVATE_URLS=1 to allow local and private-network URLs"
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def system_resolver(host: str, port: int, *args: Any) -> Sequence[tuple[Any, ...]]:
    """The default resolver, ``socket.getaddrinfo`` (looked up at call time, for tests)."""
    return socket.getaddrinfo(host, port, *args)


def unsafe_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public address (``"loopback"``, ``"private"``…), or None when it is."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            reason = unsafe_reason(embedded)
            return f"{reason} (embedded IPv4 {embedded})" if reason else None
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("non-public", not ip.is_global),
    )
    return next((name for name, hit in checks if hit), None)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped, 6to4, Teredo or NAT64 IPv6 address."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _parse_ip(host: str) -> IPAddress | None:
    """An IP literal, including the short IPv4 forms resolvers accept (``127.1``, ``0x7f.1``)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def peer_reason(host: str, address: str) -> str | None:
    """Why a connection to ``address`` (what a lookup of ``host`` gave) must not be made, or None.

    A module function so that tests can declare a loopback stand-in for a public server public.
    """
    ip = _parse_ip(address.split("%", 1)[0])
    return unsafe_reason(ip) if ip is not None else "unparseable"


class URLGuard:
    """Checks URLs against the policy; remembers each host's addresses for its lifetime.

    Keep one guard per resolve or download so that a 200-item feed on one host costs one DNS
    lookup, and make a new one later so that DNS changes are seen.
    """

    def __init__(self, *, allow_private: bool, resolver: Resolver | None = None) -> None:
        self.allow_private = allow_private
        self._resolver = resolver
        self._verdicts: dict[str, str | None] = {}

    def __call__(self, url: str, *, what: str = "URL") -> None:
        """Raise unless ``url`` may be fetched; ``what`` names it in messages ("feed item")."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "file":
            if self.allow_private:
                return
            raise UnsafeURLError(
                f"refusing {what} {url}: file:// URLs are not fetched; give the local path "
                f"itself (e.g. castgraph ingest /path/to/file) or {_HOW_TO_ALLOW}"
            )
        if scheme not in WEB_SCHEMES:
            shown = f"'{scheme}'" if scheme else "(none)"
            raise InputError(
                f"unsupported URL scheme {shown} in {what} {url}: "
                "give an http(s) URL or a local path"
            )
        host = parts.hostname
        if not host:
            raise InputError(f"{what} {url} has no host name: give a full http(s) URL")
        if self.allow_private:
            return
        reason = self._verdict(host, parts.port, url, what)
        if reason:
            raise UnsafeURLError(
                f"refusing {what} {url}: host {host} is {reason}; castgraph only fetches "
                f"public URLs unless allowed ({_HOW_TO_ALLOW})"
            )

    def check_peer(self, host: str, address: str, *, origin: str | None = None) -> None:
        """Raise before a socket connects to ``address`` for ``host`` when it is not public.

        ``origin`` is the URL that was requested: when ``host`` is not its host, a redirect led
        here, and the message says so.
        """
        if self.allow_private:
            return
        reason = peer_reason(host, address)
        if not reason:
            return
        origin_host = (urlsplit(origin).hostname or "") if origin else ""
        if origin and origin_host.lower().rstrip(".") != host.lower().rstrip("."):
            how = f"a redirect from {origin} leads to host {host}"
        else:
            how = f"host {host} resolves to {address} when connecting"
        raise UnsafeURLError(
            f"refusing to connect: {how}, a {reason} address ({address}); castgraph only "
            f"fetches public URLs unless allowed ({_HOW_TO_ALLOW})"
        )

    def _verdict(self, host: str, port: int | None, url: str, what: str) -> str | None:
        key = host.lower().rstrip(".")
        if key not in self._verdicts:
            self._verdicts[key] = self._check_host(key, port, url, what)
        return self._verdicts[key]

    def _check_host(self, host: str, port: int | None, url: str, what: str) -> str | None:
        literal = _parse_ip(host)
        if literal is not None:
            reason = unsafe_reason(literal)
            return f"a {reason} address" if reason else None
        if host == "localhost" or host.endswith(".localhost"):
            return "a loopback name"
        resolver = self._resolver or system_resolver
        try:
            infos = resolver(host, port or 443, 0, socket.SOCK_STREAM)
        except (OSError, UnicodeError) as e:
            raise SourceError(
                f"could not resolve host {host} of {what} {url}: {e}; check the address and "
                "your network connection"
            ) from e
        for info in infos:
            ip = _parse_ip(str(info[4][0]).split("%", 1)[0])
            reason = unsafe_reason(ip) if ip is not None else "unparseable"
            if reason:
                return f"resolving to a {reason} address ({info[4][0]})"
        if not infos:
            return "not resolvable to any address"
        log.debug("url guard: %s is public", host)
        return None


def check_url(
    url: str, *, allow_private: bool, what: str = "URL", resolver: Resolver | None = None
) -> None:
    """Raise ``UnsafeURLError``/``InputError`` unless ``url`` is a fetchable public http(s) URL.

    With ``allow_private`` any http(s) URL and ``file://`` pass; other schemes never do.
    """
    URLGuard(allow_private=allow_private, resolver=resolver)(url, what=what)
