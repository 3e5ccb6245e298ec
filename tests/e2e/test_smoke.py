"""The harness itself: Chromium reaches the real server, and the data is what tests expect."""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.harness import DEMO_EPISODES, MARKUP_TITLE, CastgraphServer, PageSession


def _json(page: PageSession, url: str) -> Any:
    response = page.goto(url)
    assert response is not None and response.status == 200, url
    # Chromium shows JSON as text in a <pre>; the body text is the document verbatim.
    return json.loads(page.page.inner_text("body"))


def test_the_browser_reads_the_ingested_catalog(server: CastgraphServer, page: PageSession) -> None:
    health = _json(page, f"{server.url}/healthz")
    assert health == {
        "status": "ok",
        "episodes": DEMO_EPISODES + 1,
        "indexed": DEMO_EPISODES + 1,
        "components": {n: {"status": "ok"} for n in ("catalog", "keyword", "vector", "graph")},
    }
    episodes = _json(page, f"{server.url}/api/episodes")
    assert {e["state"] for e in episodes} == {"indexed"}
    # Verbatim: the API neither escapes nor strips markup; escaping is the UI's job.
    assert [e["title"] for e in episodes].count(MARKUP_TITLE) == 1
    page.assert_clean()


def test_the_server_restarts_on_the_same_port(server: CastgraphServer, page: PageSession) -> None:
    url = server.url
    server.stop()
    assert not server.running
    server.start()
    assert server.url == url and server.api_key is not None
    assert _json(page, f"{url}/healthz")["status"] == "ok"
