"""YtDlpSource offline: yt-dlp's answers for a YouTube channel are canned (no network)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from castgraph.core.errors import SourceError, UnsafeURLError
from castgraph.core.models import MediaItem
from castgraph.ingest.sources import ytdlp_info
from castgraph.ingest.sources.ytdlp import YtDlpSource, _GuardedYoutubeDL, order_items

CHANNEL = "https://www.youtube.com/@somepodcast"


def _stamp(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, 12, tzinfo=UTC).timestamp())


def _flat(video_id: str, title: str, day: date | None, **extra: Any) -> dict[str, Any]:
    return {
        "_type": "url",
        "ie_key": "Youtube",
        "id": video_id,
        "url": f"https://www.youtube.com/shorts/{video_id}" if "short" in title else
        f"https://www.youtube.com/watch?v={video_id}",
        "title": title,
        "duration": 600.0,
        "timestamp": _stamp(day) if day else None,
        **extra,
    }  # fmt: skip


def _channel_info() -> dict[str, Any]:
    """What yt-dlp's YoutubeTab answers (flat) for a channel URL: one playlist per tab."""
    videos = [
        _flat("Live0000001", "Live now", None, live_status="is_live"),
        _flat("NewestAbCd1", "Episode 3", date(2025, 3, 1)),
        _flat("PrivateVid1", "[Private video]", None),
        _flat("MiddleAbCd2", "Episode 2", date(2025, 2, 1)),
        _flat("OldestAbCd3", "Episode 1", date(2025, 1, 1)),
    ]
    return {
        "_type": "playlist",
        "id": "UCabc",
        "extractor_key": "YoutubeTab",
        "entries": [
            # yt-dlp hands out a channel's entries lazily
            {"_type": "playlist", "title": "Some podcast - Videos", "entries": iter(videos)},
            {
                "_type": "playlist",
                "title": "Some podcast - Shorts",
                "entries": [_flat("ShortAbCd04", "A short", date(2025, 2, 15))],
            },
        ],
    }


FULL_VIDEO: dict[str, Any] = {
    "id": "MiddleAbCd2",
    "extractor_key": "Youtube",
    "title": "Episode 2 (full title)",
    "webpage_url": "https://www.youtube.com/watch?v=MiddleAbCd2",
    "upload_date": "20250130",
    "duration": 612,
    "subtitles": {
        "es": [{"ext": "json3", "url": "https://y/es.json3"}, {"ext": "vtt", "url": "https://y/es.vtt"}],
        "en-US": [{"ext": "srv3", "url": "https://y/en.srv3"}, {"ext": "srt", "url": "https://y/en.srt"}],
        "fr": [{"ext": "ttml", "url": "https://y/fr.ttml"}],
        "live_chat": [{"ext": "json", "url": "https://y/chat"}],
    },
    "automatic_captions": {"de": [{"ext": "vtt", "url": "https://y/de.vtt"}]},
}  # fmt: skip


@pytest.fixture
def canned(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """yt-dlp answers from CHANNEL_INFO / FULL_VIDEO; returns the URLs it was asked for."""
    asked: list[str] = []

    def extract_info(self: Any, url: str, **kwargs: Any) -> dict[str, Any]:
        asked.append(url)
        if url == CHANNEL:
            return _channel_info()
        if "MiddleAbCd2" in url:
            return dict(FULL_VIDEO)
        raise RuntimeError(
            f"ERROR: [youtube] {url}: Private video. "
            "Sign in if you've been granted access to this video"
        )

    monkeypatch.setattr(_GuardedYoutubeDL, "extract_info", extract_info)
    monkeypatch.setattr(
        "castgraph.ingest.sources.urlguard.system_resolver",
        lambda host, port, *a: [(2, 1, 6, "", ("142.250.1.1", port))],
    )
    return asked


def test_channel_resolves_flat_oldest_first(canned: list[str]) -> None:
    items = YtDlpSource(allow_private=False).resolve(CHANNEL)
    assert [i.title for i in items] == ["Episode 1", "Episode 2", "A short", "Episode 3"]
    assert items[0].source_id == "youtube:OldestAbCd3"  # extractor key lower-cased, id kept
    assert items[2].url == "https://www.youtube.com/watch?v=ShortAbCd04"
    assert items[0].published == date(2025, 1, 1)
    assert all(i.duration == 600.0 and i.origin == CHANNEL for i in items)
    assert canned == [CHANNEL]  # one extraction for the whole channel


def test_since_and_limit(canned: list[str]) -> None:
    source = YtDlpSource(allow_private=False)
    assert [i.title for i in source.resolve(CHANNEL, since=date(2025, 2, 10))] == [
        "A short",
        "Episode 3",
    ]
    assert [i.title for i in source.resolve(CHANNEL, limit=1)] == ["Episode 1"]


def test_details_adds_exact_date_and_human_captions(canned: list[str]) -> None:
    source = YtDlpSource(allow_private=False)
    item = next(i for i in source.resolve(CHANNEL) if i.title == "Episode 2")
    full = source.details(item)
    assert full.source_id == item.source_id
    assert full.published == date(2025, 1, 30)
    assert full.duration == 612.0
    assert full.title == "Episode 2 (full title)"
    assert full.captions == {"es": "https://y/es.vtt", "en-US": "https://y/en.srt"}
    only_en = YtDlpSource(allow_private=False, captions_langs=["en"]).details(item)
    assert only_en.captions == {"en-US": "https://y/en.srt"}


def test_errors_are_told_plainly(canned: list[str]) -> None:
    item = MediaItem("youtube:PrivateVid1", "https://www.youtube.com/watch?v=PrivateVid1", "x")
    with pytest.raises(SourceError, match="private video: sign-in required"):
        YtDlpSource(allow_private=False).details(item)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("ERROR: [youtube] abc: Video unavailable. This video has been removed", "removed"),
        ("ERROR: [generic] x: Unable to download webpage: HTTP Error 404: Not Found", "not found"),
        ("ERROR: Unsupported URL: https://example.com/", "yt-dlp does not support this URL"),
        ("ERROR: [youtube] abc: Sign in to confirm your age.", "age-restricted"),
        ("ERROR: [youtube] abc: Premieres in 3 hours", "not available yet"),
        ("ERROR: unable to download video data: <urlopen error timed out>", "network timeout"),
        ("ERROR: [generic] x: Failed to resolve 'nowhere.invalid'", "network error"),
        ("ERROR: something new", "yt-dlp failed: something new"),
    ],
)  # fmt: skip
def test_error_mapping(message: str, expected: str) -> None:
    error = ytdlp_info.wrap(RuntimeError(message), "https://x/y")
    assert isinstance(error, SourceError)
    assert expected in str(error)
    assert str(error).startswith("https://x/y: ")


def test_guard_errors_come_through_wrapped() -> None:
    inner = UnsafeURLError("refusing request http://10.0.0.1/")
    try:
        try:
            raise inner
        except UnsafeURLError as e:
            raise RuntimeError("yt-dlp wrapped it") from e
    except RuntimeError as outer:
        assert ytdlp_info.wrap(outer, "https://x/") is inner


def test_published_date_sources() -> None:
    assert ytdlp_info.published_date({"upload_date": "20240229"}) == date(2024, 2, 29)
    assert ytdlp_info.published_date({"release_date": "20230101"}) == date(2023, 1, 1)
    assert ytdlp_info.published_date({"timestamp": _stamp(date(2022, 5, 6))}) == date(2022, 5, 6)
    assert ytdlp_info.published_date({"title": "x"}) is None


def test_order_items_keeps_undated_next_to_their_neighbours() -> None:
    def item(name: str, day: int | None) -> MediaItem:
        return MediaItem(name, "u", name, published=date(2024, 1, day) if day else None)

    newest_first = [item("d", 9), item("c", None), item("b", 5), item("a", 1)]
    assert [i.title for i in order_items(newest_first, newest_first=False)] == ["a", "b", "c", "d"]
    undated = [item("2", None), item("1", None)]
    assert [i.title for i in order_items(undated, newest_first=True)] == ["1", "2"]
    assert [i.title for i in order_items(undated, newest_first=False)] == ["2", "1"]


def test_file_stem_is_safe_and_distinct() -> None:
    a = ytdlp_info.file_stem("youtube:AbC-_123")
    b = ytdlp_info.file_stem("youtube:abc-_123")
    assert a != b and a.lower() != b.lower()
    weird = ytdlp_info.file_stem("generic:https://host/a b/../c?d=1")
    assert "/" not in weird and " " not in weird and ".." not in weird


def test_description_joins_the_item_and_its_channel_where_people_are_named() -> None:
    entry = {"description": "Con Valeria Quiroga.", "uploader": "La Sobremesa"}
    feed = {"title": "La Sobremesa", "description": "Conducen Lucía Benítez y Nicolás Paz."}
    text = ytdlp_info.description(entry, feed)
    assert text.splitlines() == [
        "Con Valeria Quiroga.",
        "La Sobremesa",
        "Conducen Lucía Benítez y Nicolás Paz.",
    ]
    assert ytdlp_info.description({}) == ""
    assert len(ytdlp_info.description({"description": "x" * 10**6})) == 5000
