"""Search, people, topics, the language switch, untrusted text, and every screen at two widths."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.harness import MARKUP_TITLE, CastgraphServer, PageSession
from tests.e2e.ui import demo_episode, episodes, shot, track_media


def test_search_with_a_language_filter_finds_playable_moments(
    server: CastgraphServer, page: PageSession
) -> None:
    english = {e["id"] for e in episodes(server) if e["language"] == "en"}
    media = track_media(page)
    page.goto(f"{server.url}/search")
    page.get_by_label("Query").fill("green roofs")
    page.get_by_role("search").get_by_label("Language").select_option("en")
    page.get_by_role("search").get_by_role("button", name="Search").click()
    expect(page.page).to_have_url(f"{server.url}/search?q=green+roofs&language=en")
    results = page.locator(".results .result")
    results.first.wait_for()
    found = {b.get_attribute("data-episode") for b in page.locator(".result .play").all()}
    assert found and found <= english, found
    expect(results.first.locator(".signal").first).to_be_visible()
    media.plays(results.first.locator(".play"))
    page.assert_clean()


def test_a_person_timeline_is_ordered_by_date_and_playable(
    server: CastgraphServer, page: PageSession
) -> None:
    media = track_media(page)
    page.goto(f"{server.url}/people")
    cards = page.locator(".card h2 a")
    cards.first.wait_for()
    assert not any(n.startswith("SPEAKER_") for n in cards.all_inner_texts())
    cards.first.click()
    page.locator(".timeline .moment").first.wait_for()
    dates = [t.get_attribute("datetime") or "" for t in page.locator(".timeline time").all()]
    assert dates == sorted(dates), dates
    media.plays(page.locator(".timeline .play").first)
    # Filtering by a topic keeps only moments tagged with it (the demo people have topics).
    chips = page.locator(".topic-filter button")
    assert chips.count() > 1, "the person has no topic to filter by"
    topic = chips.nth(1).inner_text().rsplit(" (", 1)[0]
    with page.expect_response(lambda r: "/api/people/" in r.url and "topic=" in r.url) as answer:
        chips.nth(1).click()
    assert answer.value.ok, answer.value.status
    expected = sum(len(e["moments"]) for e in answer.value.json()["episodes"])
    assert expected > 0, "the filtered timeline is empty"
    pressed = page.locator('.topic-filter button[aria-pressed="true"]')
    expect(pressed).to_have_text(re.compile(rf"^{re.escape(topic)} \("))
    # Re-rendered from the filtered answer (not the old timeline): its moments, each tagged.
    expect(page.locator(".timeline .moment")).to_have_count(expected)
    tags = page.locator(".timeline .moment .tags")
    expect(tags).to_have_count(expected)
    for tag_list in tags.all():
        assert topic in tag_list.locator(".tag").all_inner_texts(), tag_list.inner_text()
    page.assert_clean()


def test_a_topic_page_lists_relations_with_playable_moments(
    server: CastgraphServer, page: PageSession
) -> None:
    media = track_media(page)
    page.goto(f"{server.url}/topics")
    page.locator(".tag-cloud a").first.click()
    page.locator(".relation").first.wait_for()
    assert page.locator(".star a").count() <= 25, "the drawing stays bounded"
    relation = page.locator(".relation").first
    expect(relation.locator(".relation-type")).not_to_be_empty()
    media.plays(relation.locator(".play").first)
    page.assert_clean()


def test_the_language_switch_changes_the_interface_and_is_remembered(
    server: CastgraphServer, page: PageSession
) -> None:
    page.goto(f"{server.url}/")
    nav = page.get_by_role("navigation")
    expect(nav.get_by_role("link", name="Ask")).to_be_visible()  # from the browser (en-US)
    page.get_by_role("banner").get_by_label("Language").select_option("es")
    expect(nav.get_by_role("link", name="Preguntar")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    page.reload()
    expect(nav.get_by_role("link", name="Episodios")).to_be_visible()
    page.assert_clean()


def test_markup_in_a_title_is_shown_literally_and_runs_nothing(
    server: CastgraphServer, page: PageSession
) -> None:
    page.goto(f"{server.url}/episodes")
    link = page.locator(".episode-list h2 a").filter(has_text="<script>")
    expect(link).to_have_text(MARKUP_TITLE)
    expect(page.locator(".episode-list b")).to_have_count(0)
    link.click()
    expect(page.locator("h1")).to_have_text(MARKUP_TITLE)
    page.goto(f"{server.url}/search?q=Markup+quotes")
    page.locator(".results, .empty").first.wait_for()
    assert page.evaluate("document.querySelectorAll('script:not([type])').length") == 0
    page.assert_clean()  # no dialog, no page error


SCREENS = {
    "search": "/search?q=calor",
    "episodes": "/episodes",
    "people": "/people",
    "topics": "/topics",
    "subscriptions": "/subscriptions",
}


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_every_screen_renders_at_desktop_and_phone_width(
    server: CastgraphServer,
    page: PageSession,
    phone_page: PageSession,
    screenshots: Path,
    width: str,
) -> None:
    session = page if width == "desktop" else phone_page
    episode = demo_episode(server)
    person = episode["speakers"][0]
    screens = {
        **SCREENS,
        "episode": f"/e/{episode['id']}",
        "person": f"/people/{person}",
        "chat": "/",
    }
    topic = httpx.get(f"{server.url}/api/topics?limit=1", timeout=30).json()[0]["key"]
    screens["topic"] = f"/topics/{quote(topic)}"
    for name, path in screens.items():
        session.goto(f"{server.url}{path}")
        session.locator("main h1, main .intro").first.wait_for()
        if name == "chat":  # the chat screen with an answer and its chips
            session.fill("#question", "¿Cuántos sensores pusieron en Barracas?")
            session.keyboard.press("Enter")
            session.locator(".answer.done").wait_for(timeout=120_000)
        session.wait_for_load_state("networkidle")
        overflow = session.evaluate("document.documentElement.scrollWidth - innerWidth")
        assert overflow <= 1, f"{name} scrolls sideways at {width} width by {overflow}px"
        shot(session, screenshots, f"{name}-{width}")
    session.assert_clean()
