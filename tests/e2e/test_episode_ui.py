"""The episode page: transcript by speaker turn, playing from any line, highlight, rename."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Response, Route, expect

from tests.e2e.harness import API_KEY, MARKUP_TITLE, CastgraphServer, PageSession
from tests.e2e.ui import LEAD, demo_episode, episodes, shot, track_media


@pytest.mark.parametrize("locale", ["es-AR"])
def test_transcript_lines_play_and_the_highlight_follows_playback(
    server: CastgraphServer, page: PageSession, screenshots: Path
) -> None:
    episode = demo_episode(server)
    media = track_media(page)
    page.goto(f"{server.url}/episodes")
    page.get_by_role("link", name=episode["title"]).click()
    expect(page.locator("h1")).to_have_text(episode["title"])
    names = page.locator(".speaker-name").all_inner_texts()
    assert names and not any(n.startswith("SPEAKER_") for n in names), names
    page.locator(".speaker").first.hover()
    expect(page.locator(".speaker .evidence").first).to_be_visible()
    shot(page, screenshots, "episode-desktop")

    lines = page.locator(".transcript .line")
    assert lines.count() > 5
    line = lines.nth(4)
    start = float(line.get_attribute("data-start") or "nan")
    assert start > LEAD  # so the seek lands at exactly start - LEAD
    media.plays(line)
    page.wait_for_function("document.querySelector('.transcript .line.active') !== null")
    active = float(page.locator(".line.active").get_attribute("data-start") or "nan")
    assert active <= media.current_time() + 0.1 and active >= start - LEAD - 5

    later = lines.nth(lines.count() - 2)  # jump: the highlight moves to the line being heard
    target = float(later.get_attribute("data-start") or "nan")
    page.evaluate(
        f"(() => {{ const a = document.querySelector('.media'); a.pause(); "
        f"a.currentTime = {target + 0.2}; }})()"
    )
    expect(page.locator(".line.active")).to_have_attribute(
        "data-start", later.get_attribute("data-start") or ""
    )
    expect(page.locator(".turn.current .line.active")).to_have_count(1)

    third = lines.nth(2)  # keyboard: Tab reaches lines, Enter plays
    assert float(third.get_attribute("data-start") or "nan") > LEAD
    media.plays(third, key="Enter")
    page.assert_clean()


def test_a_permalink_opens_the_episode_at_its_second(
    server: CastgraphServer, page: PageSession
) -> None:
    episode = demo_episode(server, "en")
    media = track_media(page)
    page.goto(f"{server.url}/e/{episode['id']}?t=61")
    expect(page.locator("h1")).to_have_text(episode["title"])
    assert abs(media.next_seek(0) - 61) < 1.0
    page.wait_for_function("document.querySelector('.line.active') !== null")
    page.assert_clean()


def _restore(server: CastgraphServer, episode_id: str, label: str, name: str) -> None:
    response = httpx.put(
        f"{server.url}/api/episodes/{episode_id}/speakers/{label}",
        json={"name": name},
        headers={"X-API-Key": API_KEY},
        timeout=60,
    )
    assert response.status_code == 200, response.text


def _markup_episode(server: CastgraphServer) -> dict[str, object]:
    episode = next(e for e in episodes(server) if e["title"] == MARKUP_TITLE)
    details = httpx.get(f"{server.url}/api/episodes/{episode['id']}", timeout=30).json()
    return dict(details)


def _renaming(response: Response) -> bool:
    """The rename's PUT /api/episodes/{id}/speakers/{label}."""
    return "/speakers/" in response.url


def _rename_first(page: PageSession, name: str) -> None:
    speaker = page.locator(".speaker").first
    speaker.get_by_role("button", name="Rename").click()
    speaker.get_by_label("New name").fill(name)
    speaker.get_by_role("button", name="Save").click()


def test_renaming_a_speaker_needs_the_key_when_one_is_set(
    server: CastgraphServer, page: PageSession
) -> None:
    episode = _markup_episode(server)
    first = episode["speaker_details"][0]  # type: ignore[index]
    page.goto(f"{server.url}/e/{episode['id']}")
    expect(page.locator("h1")).to_have_text(MARKUP_TITLE)  # markup shown, not run
    new_name = "Ana <b>Prueba</b>"
    shown = page.locator(".speaker-name").first
    expect(shown).to_have_text(first["name"])
    try:
        with page.expect_response(_renaming) as keyless:
            _rename_first(page, new_name)
        assert keyless.value.status == 401, keyless.value.status
        alert = page.locator(".rename [role=alert]")
        expect(alert).to_contain_text("API key")
        expect(shown).to_have_text(first["name"])
        page.get_by_label("API key").fill("wrong-key")
        with page.expect_response(_renaming) as wrong:
            page.get_by_role("button", name="Save").click()
        assert wrong.value.status == 401, wrong.value.status
        expect(alert).to_contain_text("API key")
        expect(shown).to_have_text(first["name"])  # refused: still the old name
        page.get_by_label("API key").fill(API_KEY)
        page.get_by_role("button", name="Save").click()
        expect(page.locator(".speaker-name").first).to_have_text(new_name)
        expect(page.locator(".speakers b")).to_have_count(0)
        expect(page.locator(".turn-speaker").filter(has_text=new_name).first).to_be_visible()
    finally:
        _restore(server, str(episode["id"]), first["label"], first["name"])
    page.assert_clean(allow_console=lambda m: "401" in m)


def test_renaming_without_a_key_configured_just_works(
    keyless_server: CastgraphServer, page: PageSession
) -> None:
    episode = _markup_episode(keyless_server)
    first = episode["speaker_details"][0]  # type: ignore[index]
    page.goto(f"{keyless_server.url}/e/{episode['id']}")
    try:
        _rename_first(page, "Renamed Without Key")
        expect(page.locator(".speaker-name").first).to_have_text("Renamed Without Key")
        expect(page.get_by_label("API key")).to_have_count(0)
    finally:
        _restore(keyless_server, str(episode["id"]), first["label"], first["name"])
    page.assert_clean()


def test_the_episode_list_follows_the_pages(server: CastgraphServer, page: PageSession) -> None:
    """The list route gives pages: the UI follows ``X-Next-Offset`` until it has every episode
    (shown here with pages of 2, the real server's own headers)."""
    requested: list[str] = []

    def small_pages(route: Route) -> None:
        url = route.request.url.replace("limit=1000", "limit=2")
        requested.append(url)
        route.continue_(url=url)

    page.page.route("**/api/episodes?*", small_pages)
    everything = episodes(server)
    assert len(everything) > 2  # more than one page
    page.goto(f"{server.url}/episodes")
    cards = page.locator(".episode-card h2")
    expect(cards).to_have_count(len(everything))
    assert sorted(cards.all_inner_texts()) == sorted(e["title"] for e in everything)
    offsets = [parse_qs(urlsplit(url).query)["offset"] for url in requested]
    assert offsets == [[str(n)] for n in range(0, len(everything), 2)]
    page.assert_clean()
