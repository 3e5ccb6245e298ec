"""Sources: turn what the user gives (URL, feed, channel, file, folder) into media items.

``make_source`` picks the backend: an existing local path → ``LocalSource``; an http(s) URL →
``YtDlpSource`` (yt-dlp is imported only then). Anything else fails before any work.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from castgraph.core.errors import InputError
from castgraph.core.ports import Source
from castgraph.ingest.sources.local import LocalSource
from castgraph.ingest.sources.tuning import YtDlpTuning
from castgraph.ingest.sources.urlguard import URLGuard, check_url

if TYPE_CHECKING:
    from castgraph.ingest.sources.ytdlp import YtDlpSource

__all__ = ["LocalSource", "URLGuard", "YtDlpSource", "YtDlpTuning", "check_url", "make_source"]


def make_source(
    source: str,
    *,
    allow_private: bool,
    timeout: float = 60.0,
    captions_langs: Sequence[str] | None = None,
    tuning: YtDlpTuning | None = None,
) -> Source:
    """The ``Source`` for ``source``; raises ``InputError``/``UnsafeURLError`` when unusable.

    ``file://`` URLs count as local paths only when ``allow_private`` is set.
    """
    text = source.strip()
    if not text:
        raise InputError("empty source: give an http(s) URL or a local file or folder")
    scheme = urlsplit(text).scheme.lower()
    if scheme in ("http", "https"):
        check_url(text, allow_private=allow_private, what="source")
        from castgraph.ingest.sources.ytdlp import YtDlpSource

        return YtDlpSource(
            allow_private=allow_private,
            timeout=timeout,
            captions_langs=captions_langs,
            tuning=tuning,
        )
    if scheme == "file":
        check_url(text, allow_private=allow_private, what="source")
        text = url2pathname(urlsplit(text).path)
    path = Path(text).expanduser()
    if path.exists():
        return LocalSource()
    if scheme and len(scheme) > 1 and scheme != "file":
        raise InputError(
            f"unsupported URL scheme '{scheme}' in {source}: give an http(s) URL or a local path"
        )
    hint = " (for a web address, start it with https://)" if _looks_like_web(text) else ""
    raise InputError(f"no such file or folder: {text}{hint}")


def _looks_like_web(text: str) -> bool:
    """``www.example.com`` or ``example.com/feed``: a web address without its scheme."""
    head, slash, _ = text.partition("/")
    if head.startswith("www."):
        return True
    suffix = head.rpartition(".")[2].lower()
    return bool(slash) and "." in head[1:] and suffix.isalpha() and " " not in head


def __getattr__(name: str) -> Any:
    if name == "YtDlpSource":
        from castgraph.ingest.sources.ytdlp import YtDlpSource

        return YtDlpSource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
