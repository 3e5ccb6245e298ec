"""The real yt-dlp against a local HTTP server: RSS feeds, pages with media, downloads, errors."""

from __future__ import annotations

import wave
from datetime import date, datetime
from pathlib import Path

import pytest

from castgraph.core.errors import InputError, MediaError, SourceError, UnsafeURLError
from castgraph.core.models import MediaItem
from castgraph.ingest.audio import extract_wav, ffmpeg_binary
from castgraph.ingest.captions import fetch_captions, parse_captions
from castgraph.ingest.sources import make_source
from castgraph.ingest.sources.ytdlp import YtDlpSource
from tests.mediaserver import (
    FeedEpisode,
    MediaServer,
    PageMedia,
    alias_public_host,
    media_server,  # noqa: F401
    transcode,
)

pytestmark = pytest.mark.integration

VTT = "WEBVTT\n\n00:00:00.000 --> 00:00:02.500\n<v John>And so, my fellow Americans\n"


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory, audio_fixtures: Path) -> dict[str, Path]:
    """Short real-speech files in several containers, made from the shared fixtures."""
    out = tmp_path_factory.mktemp("media")
    jfk = audio_fixtures / "en_jfk" / "jfk.flac"
    spanish = next((audio_fixtures / "es_mls_1spk").glob("*.opus"))
    ff = ffmpeg_binary()
    return {
        "ep1.mp3": transcode(jfk, out / "ep1.mp3", ffmpeg=ff, seconds=3),
        "ep2.m4a": transcode(jfk, out / "ep2.m4a", ffmpeg=ff, seconds=4),
        "ep3.opus": transcode(spanish, out / "ep3.opus", ffmpeg=ff, seconds=5),
        "ep4.mp3": transcode(spanish, out / "ep4.mp3", ffmpeg=ff, seconds=2),
        "clip.mp4": transcode(jfk, out / "clip.mp4", ffmpeg=ff, seconds=2),
    }


def _episodes(count: int) -> list[FeedEpisode]:
    files = [("ep1.mp3", "audio/mpeg"), ("ep2.m4a", "audio/mp4"), ("ep3.opus", "audio/ogg")]
    files.append(("ep4.mp3", "audio/mpeg"))
    return [
        FeedEpisode(
            title=f"Episode {n + 1}",
            file=files[n][0],
            published=datetime(2024, 3, 1 + n, 9, 30),
            duration=3.0 + n,
            guid=f"urn:test:episode-{n + 1}" if n != 1 else None,
            mime=files[n][1],
        )
        for n in range(count)
    ]


def _serve_feed(server: MediaServer, media: dict[str, Path], count: int) -> str:
    for name, path in media.items():
        server.copy_in(path, name)
    # RSS lists the newest first
    return server.write_rss("feed.xml", _episodes(count)[::-1])


@pytest.fixture
def source() -> YtDlpSource:
    return YtDlpSource(allow_private=True, timeout=10)


def test_rss_feed_items_in_published_order(
    media_server: MediaServer,  # noqa: F811
    media: dict[str, Path],
    source: YtDlpSource,
) -> None:
    feed = _serve_feed(media_server, media, 3)
    items = source.resolve(feed)
    assert [i.title for i in items] == ["Episode 1", "Episode 2", "Episode 3"]
    assert [i.published for i in items] == [date(2024, 3, 1), date(2024, 3, 2), date(2024, 3, 3)]
    assert [i.duration for i in items] == [3.0, 4.0, 5.0]
    assert [i.url for i in items] == [
        media_server.url(n) for n in ("ep1.mp3", "ep2.m4a", "ep3.opus")
    ]
    assert items[0].source_id == "generic:urn:test:episode-1"
    assert items[1].source_id.startswith("generic:ep2-")  # no <guid>: name + URL hash
    assert all(i.origin == feed and not i.captions for i in items)
    assert [i.title for i in source.resolve(feed, limit=2)] == ["Episode 1", "Episode 2"]
    assert [i.title for i in source.resolve(feed, since=date(2024, 3, 2))] == [
        "Episode 2",
        "Episode 3",
    ]


def test_incremental_feed_keeps_ids(
    media_server: MediaServer,  # noqa: F811
    media: dict[str, Path],
    source: YtDlpSource,
) -> None:
    feed = _serve_feed(media_server, media, 3)
    before = source.resolve(feed)
    _serve_feed(media_server, media, 4)
    after = source.resolve(feed)
    assert len(after) == 4
    assert [i.source_id for i in after[:3]] == [i.source_id for i in before]
    assert after[3].title == "Episode 4"
    assert after[3].source_id not in {i.source_id for i in before}
    again = source.resolve(feed)
    assert [i.source_id for i in again] == [i.source_id for i in after]


def test_feed_without_dates_is_reversed(
    media_server: MediaServer,  # noqa: F811
    media: dict[str, Path],
    source: YtDlpSource,
) -> None:
    media_server.copy_in(media["ep1.mp3"], "a.mp3")
    media_server.copy_in(media["ep4.mp3"], "b.mp3")
    feed = media_server.write_rss(
        "nodates.xml", [FeedEpisode("Newer", "b.mp3"), FeedEpisode("Older", "a.mp3")]
    )
    items = source.resolve(feed)
    assert [i.title for i in items] == ["Older", "Newer"]
    assert all(i.published is None for i in items)


def test_pages_with_audio_and_video(
    media_server: MediaServer,  # noqa: F811
    media: dict[str, Path],
    source: YtDlpSource,
) -> None:
    media_server.copy_in(media["ep1.mp3"], "a.mp3")
    media_server.copy_in(media["clip.mp4"], "clip.mp4")
    audio_page = media_server.write_page("audio.html", "An audio page", [PageMedia("a.mp3")])
    video_page = media_server.write_page(
        "video.html", "A video page", [PageMedia("clip.mp4", tag="video", mime="video/mp4")]
    )
    (audio_item,) = source.resolve(audio_page)
    (video_item,) = source.resolve(video_page)
    assert (audio_item.title, audio_item.url) == ("An audio page", audio_page)
    assert (video_item.title, video_item.url) == ("A video page", video_page)
    assert audio_item.source_id != video_item.source_id
    assert source.resolve(audio_page)[0].source_id == audio_item.source_id


def test_page_with_subtitle_track(
    media_server: MediaServer,  # noqa: F811
    media: dict[str, Path],
    source: YtDlpSource,
) -> None:
    media_server.copy_in(media["ep1.mp3"], "talk.mp3")
    media_server.add_file("talk.en.vtt", VTT)
    page = media_server.write_page(
        "talk.html", "A talk", [PageMedia("talk.mp3", subtitles={"en": "talk.en.vtt"})]
    )
    (item,) = source.resolve(page)
    assert item.captions == {"en": media_server.url("talk.en.vtt")}
    text = fetch_captions(item.captions["en"], allow_private=True, timeout=5)
    assert parse_captions(text, "en").segments[0].speaker == "John"
    assert YtDlpSource(allow_private=True, captions_langs=["es"]).resolve(page)[0].captions == {}


def test_fetch_and_extract(
    media_server: MediaServer,  # noqa: F811
    media: dict[str, Path],
    source: YtDlpSource,
    tmp_path: Path,
) -> None:
    feed = _serve_feed(media_server, media, 3)
    item = source.resolve(feed)[1]
    progress: list[tuple[float, float]] = []
    path = source.fetch(
        item, tmp_path / "media", lambda done, total: progress.append((done, total))
    )
    assert path.parent == tmp_path / "media"
    assert path.suffix == ".m4a"
    assert path.read_bytes() == media["ep2.m4a"].read_bytes()
    assert progress and progress[-1][0] == progress[-1][1] == path.stat().st_size
    assert source.fetch(item, tmp_path / "media") == path  # same stable name, reused
    wav = tmp_path / "ep2.wav"
    assert extract_wav(path, wav) == pytest.approx(4.0, abs=0.1)
    with wave.open(str(wav), "rb") as w:
        assert (w.getframerate(), w.getnchannels()) == (16_000, 1)


def test_missing_item_is_not_found(
    media_server: MediaServer,  # noqa: F811
    source: YtDlpSource,
    tmp_path: Path,
) -> None:
    item = MediaItem("generic:gone", media_server.url("gone.mp3"), "Gone")
    with pytest.raises(SourceError, match="not found"):
        source.fetch(item, tmp_path)


def test_text_served_as_mp3(
    media_server: MediaServer,  # noqa: F811
    source: YtDlpSource,
    tmp_path: Path,
) -> None:
    url = media_server.add_file("fake.mp3", "this is a text file, not audio\n" * 100)
    (item,) = source.resolve(url)
    path = source.fetch(item, tmp_path)
    with pytest.raises(MediaError, match="is not a media file ffmpeg can decode"):
        extract_wav(path, tmp_path / "fake.wav")


def test_private_urls_refused(
    media_server: MediaServer,  # noqa: F811
    media: dict[str, Path],
    tmp_path: Path,
) -> None:
    feed = _serve_feed(media_server, media, 1)
    guarded = YtDlpSource(allow_private=False, timeout=5)
    with pytest.raises(UnsafeURLError):
        guarded.resolve(feed)
    with pytest.raises(UnsafeURLError):
        make_source(feed, allow_private=False)
    with pytest.raises(UnsafeURLError):
        make_source(media["ep1.mp3"].as_uri(), allow_private=False)
    with pytest.raises(UnsafeURLError):
        guarded.fetch(MediaItem("x:1", media_server.url("ep1.mp3"), "x"), tmp_path)
    with pytest.raises(InputError, match="no such file or folder"):
        make_source(str(tmp_path / "missing.mp3"), allow_private=False)


def test_public_feed_with_private_enclosure_refused(
    media_server: MediaServer,  # noqa: F811
    media: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    host = alias_public_host(monkeypatch)
    media_server.add_file(
        "evil.xml",
        '<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item><title>Meta'
        '</title><enclosure url="http://169.254.169.254/latest/meta-data/a.mp3" '
        'type="audio/mpeg"/></item></channel></rss>',
    )
    guarded = YtDlpSource(allow_private=False, timeout=5)
    public_feed = _serve_feed(media_server, media, 2).replace("127.0.0.1", host)
    # the feed itself is fetched, but its enclosures point at 127.0.0.1 as served: each item
    # is listed (so that it is recorded as failed) and refused as soon as it is used
    items = guarded.resolve(public_feed)
    assert len(items) == 2
    for item in items:
        with pytest.raises(UnsafeURLError):
            guarded.details(item)
        with pytest.raises(UnsafeURLError):
            guarded.fetch(item, tmp_path)
    [evil] = guarded.resolve(media_server.url("evil.xml").replace("127.0.0.1", host))
    with pytest.raises(UnsafeURLError, match=r"169\.254\.169\.254"):
        guarded.fetch(evil, tmp_path)


def test_redirect_to_private_address_refused(
    media_server: MediaServer,  # noqa: F811
    media: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    host = alias_public_host(monkeypatch)
    media_server.copy_in(media["ep1.mp3"], "ep1.mp3")
    public_url = media_server.url("ep1.mp3").replace("127.0.0.1", host)
    guarded = YtDlpSource(allow_private=False, timeout=5)
    (item,) = guarded.resolve(public_url)  # a public host is fine
    assert guarded.fetch(item, tmp_path).is_file()
    hop = media_server.add_redirect("hop.mp3", media_server.url("ep1.mp3"))
    with pytest.raises(UnsafeURLError, match="redirect"):
        guarded.fetch(MediaItem("x:hop", hop.replace("127.0.0.1", host), "hop"), tmp_path)


def test_ytdlp_is_quiet(
    media_server: MediaServer,  # noqa: F811
    media: dict[str, Path],
    source: YtDlpSource,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    feed = _serve_feed(media_server, media, 3)
    items = source.resolve(feed)
    source.fetch(items[0], tmp_path)
    with pytest.raises(SourceError):
        source.resolve(media_server.url("nothing-here.mp3"))
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
