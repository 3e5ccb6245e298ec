"""A feed with 10,000 items (issue 13): resolved by the real yt-dlp from a loopback server, then
planned with the per-run cap: one run takes on the oldest ``max_items`` and registers nothing
else; the next run takes the next ones. Resolution is one pass over the items (no per-item
requests); registration is bounded by the cap."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from castgraph.catalog import SqlCatalog
from castgraph.core.models import PIPELINE_VERSION, EpisodeState, MediaItem
from castgraph.ingest.pipeline import IngestOptions, IngestPipeline, Stages
from castgraph.ingest.sources.ytdlp import YtDlpSource
from tests.mediaserver import FeedEpisode, MediaServer, media_server  # noqa: F401

pytestmark = pytest.mark.integration

ITEMS = 10_000
CAP = 50


class _Listed:
    """The same items again (the second run's listing), without a second 25 s resolve."""

    def __init__(self, items: list[MediaItem]) -> None:
        self.items = items

    def resolve(
        self, source: str, *, limit: int | None = None, since: date | None = None
    ) -> list[MediaItem]:
        return list(self.items)


def test_a_feed_of_ten_thousand_items_is_taken_on_a_capped_batch_at_a_time(
    media_server: MediaServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    start = datetime(2000, 1, 1, 6)
    episodes = [
        FeedEpisode(f"Episode {n}", f"ep{n}.mp3", start + timedelta(hours=n), 60.0, f"urn:{n}")
        for n in range(ITEMS)
    ]
    feed = media_server.write_rss("feed.xml", episodes[::-1])  # newest first, as feeds list
    source = YtDlpSource(allow_private=True, timeout=30)
    items = source.resolve(feed)
    assert len(items) == ITEMS
    assert [i.title for i in items[:3]] == ["Episode 0", "Episode 1", "Episode 2"]  # oldest first

    catalog = SqlCatalog(f"sqlite:///{tmp_path / 'catalog.db'}").open()
    try:
        unused = cast(Any, None)  # planning runs no stage
        pipeline = IngestPipeline(catalog, Stages(unused, None, unused, unused, unused), tmp_path)
        options = IngestOptions(max_items=CAP)
        report, todo = pipeline.plan([(feed, _Listed(items))], options)
        assert [e.title for e, _i, _s in todo] == [f"Episode {n}" for n in range(CAP)]
        assert (report.resolved, report.deferred) == (ITEMS, ITEMS - CAP)
        assert report.skipped == ITEMS - CAP
        assert len(catalog.list_episodes()) == CAP  # nothing past the cap was even registered
        for episode, _item, _source in todo:  # this run's batch is done
            catalog.set_state(episode.id, EpisodeState.INDEXED)
        assert all(e.pipeline_version == PIPELINE_VERSION for e in catalog.list_episodes())
        report, todo = pipeline.plan([(feed, _Listed(items))], options)
        assert [e.title for e, _i, _s in todo] == [f"Episode {n}" for n in range(CAP, 2 * CAP)]
        assert report.skipped == ITEMS - CAP  # CAP done + the rest deferred
        assert len(catalog.list_episodes()) == 2 * CAP
    finally:
        catalog.close()


def test_jobs_and_the_cli_take_the_cap_from_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from castgraph.api.jobrun import options_of
    from castgraph.core.jobs import IngestRequest
    from castgraph.core.settings import Settings

    monkeypatch.setenv("CASTGRAPH_MAX_ITEMS_PER_RUN", "7")
    settings = Settings(data_dir=tmp_path)
    assert settings.max_items_per_run == 7
    assert options_of(settings, IngestRequest(source="x")).max_items == 7
    assert Settings(data_dir=tmp_path, max_items_per_run=200).max_items_per_run == 200
