"""CASTGRAPH_PUBLIC_READ=false in a real browser: the UI asks for the key, then reads with it,
and the player's ``<audio src="/media/…">`` gets in through the cookie the UI sets."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.harness import API_KEY, DEMO_EPISODES, CastgraphServer, PageSession


@pytest.fixture
def private_server(server: CastgraphServer) -> Iterator[CastgraphServer]:
    server.start({"CASTGRAPH_PUBLIC_READ": "false"})
    yield server
    server.start()


def _refused(message: str) -> bool:
    return "401" in message  # the UI's first, keyless requests: expected here


def test_the_ui_asks_for_the_key_and_the_player_gets_in_with_its_cookie(
    private_server: CastgraphServer, page: PageSession
) -> None:
    url = private_server.url
    episodes = httpx.get(f"{url}/api/episodes", headers={"X-API-Key": API_KEY}).json()
    assert httpx.get(f"{url}/api/episodes").status_code == 401
    page.goto(f"{url}/episodes")
    form = page.locator("form.key-form")
    form.wait_for()
    form.locator("input[type=password]").fill(API_KEY)
    form.locator("button[type=submit]").click()
    page.locator(".episode-card").nth(DEMO_EPISODES).wait_for()
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    assert cookies.get("castgraph_key") == API_KEY
    media = f"/media/{episodes[0]['id']}"
    # A media element sends no custom header: only the cookie can open the keyed route.
    loaded = page.evaluate(
        """(src) => new Promise((resolve) => {
             const audio = new Audio();
             audio.onloadedmetadata = () => resolve(audio.duration > 0);
             audio.onerror = () => resolve(false);
             audio.src = src;
           })""",
        media,
    )
    assert loaded is True
    page.context.clear_cookies()
    assert page.evaluate("(src) => fetch(src).then((r) => r.status)", media) == 401
    page.assert_clean(allow_console=_refused)
