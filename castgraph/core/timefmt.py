"""Formatting of moments: ``mm:ss`` labels and links that open the media at a second."""

from __future__ import annotations

import ipaddress
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

_YOUTUBE_HOSTS = {
    "youtube.com",
    "www.youtube.com",
    "m.youtube.com",
    "youtu.be",
    "music.youtube.com",
}


def clock(seconds: float) -> str:
    """``75.4`` → ``"01:15"``; hours appear when needed (``"1:02:03"``)."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def is_public_page(url: str) -> bool:
    """Whether ``url`` is something a reader's browser can open: http(s) on a public host.

    Local files, loopback, private and link-local hosts (the demo's feed server, a LAN share)
    are not: their moments are played from castgraph's own ``/media/{episode_id}`` instead.
    Decided on the URL alone (no DNS), so a link never depends on the resolver of the moment.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".").lower()
    if parts.scheme not in ("http", "https") or not host:
        return False
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "." in host  # a bare intranet name ("nas") is not public either
    return address.is_global


def media_path(episode_id: str) -> str:
    """castgraph's own route that streams an episode's stored media (relative to the server)."""
    return f"/media/{quote(episode_id, safe='')}"


def moment_link(url: str, seconds: float, episode_id: str | None = None) -> str:
    """The URL that opens the media at ``seconds``: YouTube ``&t=123s``, other media ``#t=123``.

    With ``episode_id``, media whose URL is not a public page (local files, the demo) links to
    ``/media/{episode_id}#t=123`` on the castgraph server, which keeps playing after the original
    file server is gone.
    """
    second = max(0, int(seconds))
    if episode_id is not None and not is_public_page(url):
        return f"{media_path(episode_id)}#t={second}"
    parts = urlsplit(url)
    if parts.hostname in _YOUTUBE_HOSTS:
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "t"]
        query.append(("t", f"{second}s"))
        return urlunsplit(parts._replace(query=urlencode(query)))
    return urlunsplit(parts._replace(fragment=f"t={second}"))
