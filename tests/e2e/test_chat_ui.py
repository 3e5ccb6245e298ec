"""The chat page: streamed answers with citation chips that play the cited second in the page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.harness import CastgraphServer, PageSession
from tests.e2e.ui import LEAD, refused_connection, shot, track_media

# Answered by one sentence of the demo's first episode (a count, said by its guest).
QUESTION = "¿Cuántos sensores pusieron en Barracas?"
UNANSWERABLE = "¿Cuánto cuesta un kilo de pan en Rotterdam?"


def _ask(page: PageSession, question: str, done: str = ".answer.done") -> None:
    count = page.locator(".exchange").count()
    page.fill("#question", question)
    page.keyboard.press("Enter")
    expect(page.locator(".exchange")).to_have_count(count + 1)
    page.locator(".exchange").last.locator(done).wait_for(timeout=120_000)


@pytest.mark.parametrize("locale", ["es-AR"])
def test_an_answer_streams_in_with_chips_that_play_the_cited_second(
    server: CastgraphServer, page: PageSession, screenshots: Path
) -> None:
    media = track_media(page)
    page.goto(f"{server.url}/")
    with page.expect_response(lambda r: r.url.endswith("/api/chat")) as chat:
        _ask(page, QUESTION)
    assert chat.value.headers["content-type"].startswith("text/event-stream")
    chip = page.locator(".answer-text button.chip").first
    start = float(chip.get_attribute("data-start") or "nan")
    label = chip.locator(".chip-label").inner_text()
    assert "SPEAKER_" not in label, "the chip names the speaker"
    assert chip.locator(".badge").inner_text() in ("cita", "paráfrasis")
    cited = page.locator(".cited .source-text").first.inner_text()
    assert chip.locator(".chip-tip").text_content() == f"“{cited}”", "hover shows the sentence"
    chip.hover()
    expect(chip.locator(".chip-tip")).to_be_visible()
    shot(page, screenshots, "chat-desktop")

    seeked = media.plays(chip)  # LEAD before the cited sentence
    assert start - LEAD - 0.05 <= seeked <= start, (seeked, start)
    assert abs(seeked - start) < 1.0
    page.wait_for_function("document.querySelector('.media').readyState >= 1")
    assert 206 in media.statuses, f"the player asked for byte ranges: {media.statuses}"
    expect(page.locator(".now-text")).to_have_text(cited)

    again = media.plays(chip, key="Enter")  # keyboard: a chip is a button; Enter plays it again
    assert abs(again - start) < 1.0
    page.assert_clean()


@pytest.mark.parametrize("locale", ["es-AR"])
def test_a_conversation_follows_up_survives_a_reload_and_clears(
    server: CastgraphServer, page: PageSession
) -> None:
    page.goto(f"{server.url}/")
    _ask(page, QUESTION)
    with page.expect_request(lambda r: r.url.endswith("/api/chat")) as request:
        _ask(page, UNANSWERABLE)
    history = json.loads(request.value.post_data or "{}")["history"]
    assert [t["role"] for t in history] == ["user", "assistant"]
    assert history[0]["content"] == QUESTION
    # Not in the episodes: an answer that says so, not an error.
    last = page.locator(".exchange").last
    expect(last.locator(".abstained")).to_be_visible()
    expect(last.locator(".error")).to_have_count(0)
    expect(last.locator("button.chip")).to_have_count(0)

    page.reload()
    expect(page.locator(".exchange")).to_have_count(2)
    expect(page.locator(".exchange").first.locator("button.chip").first).to_be_visible()
    page.get_by_role("button", name="Borrar conversación").click()
    expect(page.locator(".exchange")).to_have_count(0)
    page.reload()
    expect(page.locator(".exchange")).to_have_count(0)
    page.assert_clean()


def test_unknown_numbers_are_dropped_and_markup_stays_text(
    server: CastgraphServer, page: PageSession
) -> None:
    page.goto(f"{server.url}/")
    page.wait_for_selector("#question")
    result = page.evaluate(
        """async () => {
          const m = await import('/static/js/answer.js');
          const box = document.createElement('div');
          box.innerHTML = m.markdown('Said [1] and [7]. <img src=x onerror="alert(1)"> **b**');
          const source = {number: 1, start: 3, speaker: '<i>Ana</i>', title: 'T',
                          text: '<script>alert(2)</script>', kind: 'quote'};
          m.chipify(box, new Map([[1, source]]), 'en');
          return {chips: box.querySelectorAll('button.chip').length,
                  seven: box.textContent.includes('[7]'),
                  onerror: box.querySelector('[onerror]') !== null,
                  italic: box.querySelector('button.chip i') !== null,
                  tip: box.querySelector('.chip-tip').textContent,
                  bold: box.querySelector('strong') !== null};
        }"""
    )
    assert result == {
        "chips": 1,
        "seven": False,
        "onerror": False,
        "italic": False,
        "tip": "“<script>alert(2)</script>”",
        "bold": True,
    }
    page.assert_clean()


@pytest.mark.parametrize("locale", ["es-AR"])
def test_a_server_outage_shows_an_error_and_retry_answers(
    server: CastgraphServer, page: PageSession
) -> None:
    page.goto(f"{server.url}/")
    page.wait_for_selector("#question")
    server.stop()
    _ask(page, QUESTION, done=".answer.error")
    alert = page.locator(".exchange").last.locator("[role=alert]")
    expect(alert).to_contain_text("No se pudo hablar con el servidor")
    server.start()
    alert.get_by_role("button", name="Reintentar").click()
    page.locator(".exchange").last.locator(".answer.done").wait_for(timeout=120_000)
    expect(page.locator(".exchange").last.locator("button.chip").first).to_be_visible()
    page.assert_clean(allow_console=refused_connection)


def test_a_citation_carries_the_public_link_or_else_the_permalink(
    server: CastgraphServer, page: PageSession
) -> None:
    page.goto(f"{server.url}/")
    page.wait_for_selector("#question")
    cited = page.evaluate(
        """async () => {
          const m = await import('/static/js/format.js');
          const base = {episodeId: 'ab12', title: 'Ep', speaker: 'Ana', start: 3725.4,
                        published: '2024-03-05'};
          return [m.citation({...base, link: 'https://www.youtube.com/watch?v=x&t=3725s'}, 'en'),
                  m.citation({...base, link: '/media/ab12#t=3725'}, 'en'),
                  m.citation({...base, speaker: null}, 'es')];
        }"""
    )
    assert cited[0] == "Ana — Ep, Mar 5, 2024, 01:02:05, https://www.youtube.com/watch?v=x&t=3725s"
    assert cited[1] == f"Ana — Ep, Mar 5, 2024, 01:02:05, {server.url}/e/ab12?t=3725"
    assert cited[2] == f"Participante — Ep, 5 de mar de 2024, 01:02:05, {server.url}/e/ab12?t=3725"
    page.assert_clean()
