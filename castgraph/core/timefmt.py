"""Formatting of moments: ``mm:ss`` labels and links that open the media at a second."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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


def moment_link(url: str, seconds: float) -> str:
    """The URL that opens the media at ``seconds``: YouTube ``&t=123s``, other media ``#t=123``."""
    second = max(0, int(seconds))
    parts = urlsplit(url)
    if parts.hostname in _YOUTUBE_HOSTS:
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "t"]
        query.append(("t", f"{second}s"))
        return urlunsplit(parts._replace(query=urlencode(query)))
    return urlunsplit(parts._replace(fragment=f"t={second}"))
