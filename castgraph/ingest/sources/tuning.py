"""How yt-dlp treats the sites it downloads from: sleeps, a rate limit, and YouTube's extras,
and how much it may download per item (``max_bytes``, ``max_duration``: see ``limits``).

All off by default. Cookies, a proxy and a PO token are for YouTube's bot checks; the JavaScript
runtime (``deno`` from PyPI, with the ``yt-dlp-ejs`` scripts) solves YouTube's player challenges.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class YtDlpTuning:
    sleep: float = 0.0
    """Seconds between downloads (and, capped at 1 s, between a listing's requests)."""
    rate_limit: str | None = None
    """Download bandwidth, e.g. ``2M`` bytes per second."""
    cookies: Path | None = None
    proxy: str | None = None
    po_token: str | None = None
    """Passed as yt-dlp's ``youtube:po_token`` extractor argument (``CLIENT.CONTEXT+TOKEN``)."""
    max_bytes: int | None = None
    """A download stops (and its item fails) past this many bytes."""
    max_duration: float | None = None
    """Media whose metadata says it lasts longer (seconds) is refused before downloading."""

    def params(self) -> dict[str, Any]:
        """yt-dlp options for these settings (only those that are set)."""
        params: dict[str, Any] = {}
        if self.sleep > 0:
            params |= {"sleep_interval": self.sleep, "sleep_interval_requests": min(self.sleep, 1)}
        if self.rate_limit:
            from yt_dlp.utils import parse_bytes

            params["ratelimit"] = parse_bytes(self.rate_limit)
        if self.cookies is not None:
            params["cookiefile"] = str(self.cookies)
        if self.proxy:
            params["proxy"] = self.proxy
        runtime = deno_path()
        if runtime:
            params["js_runtimes"] = {"deno": {"path": runtime}}
        return params

    def youtube_args(self) -> dict[str, list[str]]:
        return {"po_token": [self.po_token]} if self.po_token else {}


def deno_path() -> str | None:
    """The ``deno`` binary installed from PyPI, if any (yt-dlp also looks on PATH)."""
    try:
        from deno import find_deno_bin
    except ImportError:
        return None
    try:
        return str(find_deno_bin())
    except FileNotFoundError:
        return None
