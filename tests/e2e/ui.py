"""What the UI tests share: watching the player seek, the media requests, and the catalog."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.harness import MARKUP_TITLE, CastgraphServer, PageSession

# Media elements' "seeked" does not bubble, but a capturing listener on document sees it.
_SEEKS = """
window.__seeks = [];
document.addEventListener("seeked", (e) => window.__seeks.push(e.target.currentTime), true);
"""


@dataclass
class Media:
    """The player's seeks (currentTime right after each) and the /media responses' statuses."""

    session: PageSession
    statuses: list[int] = field(default_factory=list)

    def seeks(self) -> list[float]:
        return list(self.session.page.evaluate("window.__seeks"))

    def next_seek(self, before: int) -> float:
        """Wait for a seek after the first ``before`` ones; its currentTime."""
        self.session.page.wait_for_function(f"window.__seeks.length > {before}")
        return float(self.seeks()[-1])

    def current_time(self) -> float:
        return float(self.session.page.evaluate("document.querySelector('.media').currentTime"))


def track_media(session: PageSession) -> Media:
    """Call before the first goto: records seeks and /media response statuses."""
    media = Media(session)
    session.context.add_init_script(_SEEKS)
    session.page.on("response", lambda r: "/media/" in r.url and media.statuses.append(r.status))
    return media


def episodes(server: CastgraphServer) -> list[dict[str, Any]]:
    response = httpx.get(f"{server.url}/api/episodes", timeout=30)
    response.raise_for_status()
    return list(response.json())


def demo_episode(server: CastgraphServer, language: str = "es") -> dict[str, Any]:
    """The first demo episode in ``language`` (never the markup fixture)."""
    return next(
        e for e in episodes(server) if e["language"] == language and e["title"] != MARKUP_TITLE
    )


def shot(session: PageSession, folder: Path, name: str) -> Path:
    """A full-page screenshot ``<name>.png`` (tests look at them; the README shows two)."""
    path = folder / f"{name}.png"
    session.page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000, f"{path} looks empty"
    return path


def refused_connection(message: str) -> bool:
    """Chromium logs a failed fetch as a console error while the server is down on purpose."""
    return "ERR_CONNECTION_REFUSED" in message or "Failed to fetch" in message
