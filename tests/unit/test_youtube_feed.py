"""YouTube channel discovery from the channel's RSS feed, served by a local HTTP server."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from castgraph.core.models import MediaItem
from castgraph.ingest.sources.tuning import YtDlpTuning
from castgraph.ingest.sources.youtube_feed import (
    FeedFirstSource,
    channel_id,
    feed_first,
    parse_feed,
)
from tests.mediaserver import MediaServer, media_server  # noqa: F401

CHANNEL = "UCabcdefghijklmnopqrstuv"

# The shape of https://www.youtube.com/feeds/videos.xml?channel_id=… (trimmed), newest first.
ENTRY = """
 <entry>
  <id>yt:video:{vid}</id>
  <yt:videoId>{vid}</yt:videoId>
  <yt:channelId>{channel}</yt:channelId>
  <title>{title}</title>
  <link rel="alternate" href="https://www.youtube.com/watch?v={vid}"/>
  <author><name>Charla Podcast</name></author>
  <published>{day}T17:00:06+00:00</published>
  <updated>{day}T18:11:02+00:00</updated>
  <media:group>
   <media:title>{title}</media:title>
   <media:description>Con Ana García y Luis Pérez.</media:description>
  </media:group>
 </entry>"""


def feed_xml(videos: list[tuple[str, str, str]]) -> str:
    entries = "".join(
        ENTRY.format(vid=v, title=t, day=d, channel=CHANNEL) for v, t, d in reversed(videos)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" '
        'xmlns:media="http://search.yahoo.com/mrss/" xmlns="http://www.w3.org/2005/Atom">\n'
        f" <title>Charla Podcast</title>\n <yt:channelId>{CHANNEL}</yt:channelId>{entries}\n"
        "</feed>\n"
    )


VIDEOS = [("aaaaaaaaaaa", "Episodio 1", "2026-01-05"), ("bbbbbbbbbbb", "Episodio 2", "2026-01-12")]


class ListingSource:
    """Stands in for yt-dlp: records that the fallback listing was used."""

    def __init__(self) -> None:
        self.resolved: list[str] = []

    def resolve(self, source: str, **_kw: Any) -> list[MediaItem]:
        self.resolved.append(source)
        return []

    def details(self, item: MediaItem) -> MediaItem:
        return item

    def fetch(self, item: MediaItem, dest_dir: Path, progress: Any = None) -> Path:
        raise AssertionError("not called")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"https://www.youtube.com/channel/{CHANNEL}", CHANNEL),
        (f"https://youtube.com/channel/{CHANNEL}/videos", CHANNEL),
        (f"https://www.youtube.com/feeds/videos.xml?channel_id={CHANNEL}", CHANNEL),
        ("https://www.youtube.com/@charla", None),
        (f"https://evil.example/channel/{CHANNEL}", None),
        ("https://www.youtube.com/channel/short", None),
    ],
)
def test_channel_id(url: str, expected: str | None) -> None:
    assert channel_id(url) == expected


def test_parse_feed_gives_youtube_items_oldest_first() -> None:
    items = parse_feed(feed_xml(VIDEOS).encode(), "origin")
    assert [i.source_id for i in items] == ["youtube:aaaaaaaaaaa", "youtube:bbbbbbbbbbb"]
    assert items[0].url == "https://www.youtube.com/watch?v=aaaaaaaaaaa"
    assert items[0].published == date(2026, 1, 5) and items[0].title == "Episodio 1"
    assert "Ana García" in items[0].description and "Charla Podcast" in items[0].description


def test_a_growing_feed_shows_the_new_video_and_a_broken_one_falls_back(
    media_server: MediaServer,  # noqa: F811
) -> None:
    inner = ListingSource()
    url = f"https://www.youtube.com/channel/{CHANNEL}"
    feed = media_server.url("feeds/videos.xml")
    source = feed_first(inner, url, allow_private=True, timeout=5, feed_url=feed)
    assert isinstance(source, FeedFirstSource)
    media_server.add_file("feeds/videos.xml", feed_xml(VIDEOS))
    assert len(source.resolve(url)) == 2
    media_server.add_file(
        "feeds/videos.xml", feed_xml([*VIDEOS, ("ccccccccccc", "Ep 3", "2026-01-19")])
    )
    assert [i.title for i in source.resolve(url, since=date(2026, 1, 10))] == ["Episodio 2", "Ep 3"]
    assert inner.resolved == []
    (media_server.root / "feeds" / "videos.xml").unlink()  # 404: list with yt-dlp instead
    assert source.resolve(url) == [] and inner.resolved == [url]
    assert (
        feed_first(inner, "https://www.youtube.com/@charla", allow_private=True, timeout=5) is inner
    )


def test_the_feed_url_passes_the_url_guard(media_server: MediaServer) -> None:  # noqa: F811
    inner = ListingSource()
    source = FeedFirstSource(
        inner, CHANNEL, allow_private=False, feed_url=media_server.url("feeds/videos.xml")
    )
    source.resolve("https://www.youtube.com/channel/x")  # refused → the fallback listing
    assert inner.resolved == ["https://www.youtube.com/channel/x"]


def test_tuning_becomes_ytdlp_options(tmp_path: Path) -> None:
    assert "ratelimit" not in YtDlpTuning().params() and YtDlpTuning().youtube_args() == {}
    tuning = YtDlpTuning(
        sleep=5, rate_limit="2M", cookies=tmp_path / "c.txt", proxy="socks5://127.0.0.1:1080",
        po_token="web.gvs+TOKEN",
    )  # fmt: skip
    params = tuning.params()
    assert params["sleep_interval"] == 5 and params["sleep_interval_requests"] == 1
    assert params["ratelimit"] == 2 * 1024 * 1024 and params["cookiefile"].endswith("c.txt")
    assert params["proxy"] == "socks5://127.0.0.1:1080"
    assert tuning.youtube_args() == {"po_token": ["web.gvs+TOKEN"]}
