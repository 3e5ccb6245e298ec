"""The subscriptions page: subscribe and unsubscribe with the key, an ingest job's live progress."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.harness import API_KEY, CastgraphServer, PageSession
from tests.netutil import free_port


def test_subscribing_needs_the_key_and_unsubscribing_removes_it(
    server: CastgraphServer, page: PageSession
) -> None:
    source = f"http://127.0.0.1:{free_port()}/feed.xml"  # nothing listens: never fetched here
    page.goto(f"{server.url}/subscriptions")
    page.get_by_label("Subscribe to a channel, playlist or feed").fill(source)
    page.get_by_label("Schedule (cron)").fill("0 3 * * *")
    page.get_by_role("button", name="Subscribe", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("API key")
    page.get_by_label("API key").fill(API_KEY)
    page.get_by_role("button", name="Save").click()
    page.get_by_role("button", name="Subscribe", exact=True).click()
    card = page.locator(".subscription").filter(has_text=source)
    expect(card).to_have_count(1)
    expect(card.locator(".meta").first).to_contain_text("0 3 * * *")
    card.get_by_role("button", name="Pause").click()
    expect(card.get_by_role("button", name="Resume")).to_be_visible()
    card.get_by_role("button", name="Unsubscribe").click()
    expect(page.locator(".subscription").filter(has_text=source)).to_have_count(0)
    page.assert_clean(allow_console=lambda m: "401" in m)


def test_an_ingest_job_shows_its_progress_and_how_it_ended(
    server: CastgraphServer, page: PageSession
) -> None:
    server.start({"CASTGRAPH_RETRY_BACKOFF": "0.2"})  # the refused download is retried: briefly
    page.goto(f"{server.url}/subscriptions")
    page.evaluate(f"localStorage.setItem('castgraph.apiKey', JSON.stringify('{API_KEY}'))")
    page.reload()
    missing = f"http://127.0.0.1:{free_port()}/missing.mp3"  # refused: the job fails, clearly
    page.get_by_label("Ingest a URL now").fill(missing)
    page.get_by_role("button", name="Ingest", exact=True).click()
    job = page.locator(".job")
    expect(job).to_contain_text(missing)
    expect(job.locator(".state")).to_have_text("failed", timeout=60_000)
    expect(job.locator(".error")).not_to_be_empty()
    page.assert_clean()
