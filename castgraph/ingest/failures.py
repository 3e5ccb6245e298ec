"""Kinds of ingestion failures, read from the errors' messages, and what to do about each.

``transient`` failures (the network, a server's 5xx) are retried with backoff; ``blocked``
ones (YouTube's "confirm you're not a bot", HTTP 429) mean the site is pushing back, so the
subscription pauses instead of trying again; everything else is permanent for this run.
"""

from __future__ import annotations

import re

_KINDS: tuple[tuple[str, str], ...] = (
    ("refused", r"\brefusing\b|castgraph_allow_private_urls"),
    # Past a configured limit (size, duration, decoding time): not worth retrying as it is.
    ("limit", r"castgraph_(max_download_bytes|max_duration_s|ffmpeg_timeout)\b"),
    ("bot-check", r"not a bot|sign in to confirm|confirm you.?re not|captcha"),
    ("rate-limit", r"\b429\b|rate.?limit|too many requests"),
    ("server", r"http error 5\d\d|\bhttp 5\d\d\b|\(http 5xx\)|server failed"),
    (
        "network",
        r"network error|timed? ?out|timeout|connection (refused|reset|aborted)"
        r"|could not reach|temporary failure|remote end closed",
    ),
    ("not-found", r"\b404\b|\b410\b|not found|no longer available|removed|deleted"),
    ("unsupported", r"unsupported|does not support|no downloadable|not a media file"),
    ("access", r"private|sign-in required|members-only|age-restricted|\b40[13]\b|access denied"),
    ("unavailable", r"not available|unavailable|upcoming|premiere"),
    ("media", r"no speech|silent|captions|corrupt|decode|no audio|empty file|web page"),
    ("cancelled", r"\bcancelled\b"),
)

TRANSIENT = frozenset({"network", "server"})
BLOCKED = frozenset({"bot-check", "rate-limit"})


def classify(message: str | None) -> str:
    """The kind of a failure message: ``bot-check``, ``rate-limit``, ``network``… or ``other``."""
    text = (message or "").lower()
    return next((kind for kind, pattern in _KINDS if re.search(pattern, text)), "other")


def is_transient(kind: str) -> bool:
    return kind in TRANSIENT


def is_blocked(kind: str) -> bool:
    return kind in BLOCKED
