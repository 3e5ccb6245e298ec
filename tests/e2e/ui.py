"""What the UI tests share: watching the player seek, the media requests, and the catalog."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from tests.e2e.harness import MARKUP_TITLE, CastgraphServer, PageSession

if TYPE_CHECKING:
    from playwright.sync_api import Locator

PLAYER_JS = Path(__file__).resolve().parents[2] / "frontend" / "js" / "player.js"


def _lead_seconds() -> float:
    """``LEAD_SECONDS`` of the UI's player, so the tests follow the page if it changes."""
    source = PLAYER_JS.read_text(encoding="utf-8")
    found = re.search(r"\bLEAD_SECONDS\s*=\s*(\d+(?:\.\d+)?|\.\d+)\s*;", source)
    if found is None:
        raise LookupError(f"no `LEAD_SECONDS = <number>;` in {PLAYER_JS}")
    return float(found.group(1))


# The player starts this many seconds before a moment, so its first word is heard whole.
LEAD = _lead_seconds()

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

    def plays(self, button: Locator, *, key: str | None = None) -> float:
        """Click ``button`` (or focus it and press ``key``) and assert the player seeks to LEAD
        seconds before its ``data-start`` (never below 0); that seek's currentTime."""
        start = float(button.get_attribute("data-start") or "nan")
        assert start == start, "the button has no numeric data-start"  # not NaN
        before = len(self.seeks())
        if key is None:
            button.click()
        else:
            button.focus()
            self.session.page.keyboard.press(key)
        seeked = self.next_seek(before)
        expected = max(0.0, start - LEAD)
        assert abs(seeked - expected) < 0.05, f"start {start}: seeked to {seeked}, not {expected}"
        return seeked


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
