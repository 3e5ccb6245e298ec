"""Hostile media through a real ingest run (issue 13): real yt-dlp against a loopback feed, real
ffmpeg decoding and silence detection, a fake transcriber. Every hostile item ends as a recorded
failure with a clear message, the good items are indexed in the same run, and no download, WAV
or temporary file of a failed item is left on disk."""

from __future__ import annotations

import struct
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest

from castgraph.catalog import SqlCatalog
from castgraph.core.models import Diarization, Segment, Transcript, Word
from castgraph.core.settings import Settings
from castgraph.ingest import audio
from castgraph.ingest.failures import classify
from castgraph.ingest.pipeline import IngestOptions, IngestPipeline, IngestReport, Stages
from tests.mediaserver import FeedEpisode, MediaServer, make_tone, media_server  # noqa: F401

pytestmark = pytest.mark.integration

SILENCE_S = 600.0  # the 4-hour silence runs in bench/hostile_silence.py (minutes of decoding)


class _Transcriber:
    """Says two words for any audio it is given (the ASR model is not what is tested here)."""

    def __init__(self) -> None:
        self.heard: list[Path] = []

    def load(self) -> None:
        pass

    def transcribe(self, wav_path: Path, **_kwargs: Any) -> Transcript:
        self.heard.append(wav_path)
        words = (Word("hello", 0.0, 0.5), Word("there", 0.6, 1.0))
        return Transcript("en", (Segment(0.0, 1.0, "hello there", None, words),), 1.0)


def _stages(transcriber: _Transcriber, settings: Settings) -> Stages:
    def assign(transcript: Transcript, _diarization: Diarization | None) -> Transcript:
        return transcript

    def extract(src: Path, dst: Path) -> float:
        return audio.extract_wav(
            src, dst, timeout=settings.ffmpeg_timeout, max_duration=settings.max_duration_s
        )

    return Stages(
        transcriber=transcriber,
        diarizer=None,
        extract_wav=extract,
        is_silent=audio.is_silent,
        assign_speakers=assign,
        name_speakers=None,
    )


def _ffmpeg(*args: str) -> None:
    subprocess.run(
        [audio.ffmpeg_binary(), "-nostdin", "-loglevel", "error", "-y", *args], check=True
    )


def _png(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels, with one tiny IDAT."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def _wav_bomb() -> bytes:
    """A WAV header declaring ~4 GiB of 8-channel 192 kHz audio, followed by 4 kB of data."""
    channels, rate, bits = 8, 192_000, 32
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * channels * bits // 8, 4 * channels, bits)
    return (
        b"RIFF" + struct.pack("<I", 0xFFFFFFF0) + b"WAVE"
        + b"fmt " + struct.pack("<I", len(fmt)) + fmt
        + b"data" + struct.pack("<I", 0xFFFFFFC0) + b"\x00" * 4096
    )  # fmt: skip


def _serve(server: MediaServer, work: Path) -> str:
    """The feed of hostile items (and one good one); see EXPECTED for each one's outcome."""
    tone = make_tone(work / "tone.mp3", seconds=3, ffmpeg=audio.ffmpeg_binary())
    server.copy_in(tone, "good.mp3")
    m4a = make_tone(work / "tone.m4a", seconds=20, ffmpeg=audio.ffmpeg_binary())
    data = m4a.read_bytes()
    server.add_file("truncated.m4a", data[: len(data) // 3])  # the index (moov) is lost
    mp3 = make_tone(work / "long.mp3", seconds=20, ffmpeg=audio.ffmpeg_binary())
    server.add_file("truncated.mp3", mp3.read_bytes()[: mp3.stat().st_size // 2])
    server.add_file("page.mp3", "<!DOCTYPE html><html><body><h1>Not found</h1></body></html>")
    server.add_file("empty.mp3", b"")
    _ffmpeg("-f", "lavfi", "-i", "testsrc=duration=2:size=64x48:rate=5", str(work / "v.mp4"))
    server.copy_in(work / "v.mp4", "video-only.mp4")
    server.add_file("image.png", _png(64, 48))
    server.add_file("bomb.png", _png(60_000, 60_000))
    server.add_file("bomb.wav", _wav_bomb())
    _ffmpeg(
        "-f", "lavfi", "-i", f"anullsrc=r=8000:cl=mono:d={SILENCE_S}",
        "-c:a", "libopus", "-b:a", "6k", str(work / "silence.opus"),
    )  # fmt: skip
    server.copy_in(work / "silence.opus", "silence.opus")
    items = [
        ("Good", "good.mp3", "audio/mpeg", 3.0),
        ("Truncated MP3", "truncated.mp3", "audio/mpeg", None),
        ("Truncated M4A", "truncated.m4a", "audio/mp4", None),
        ("HTML as media", "page.mp3", "audio/mpeg", None),
        ("Ten hours, zero bytes", "empty.mp3", "audio/mpeg", 36_000.0),
        ("Zero bytes", "empty.mp3", "audio/mpeg", 60.0),
        ("Video only", "video-only.mp4", "video/mp4", None),
        ("An image", "image.png", "image/png", None),
        ("Huge image", "bomb.png", "image/png", None),
        ("WAV bomb", "bomb.wav", "audio/wav", None),
        ("Silence", "silence.opus", "audio/ogg", SILENCE_S),
    ]
    episodes = [
        FeedEpisode(title, name, duration=seconds, guid=f"urn:{n}", mime=mime)
        for n, (title, name, mime, seconds) in enumerate(items)
    ]
    return server.write_rss("feed.xml", episodes)


EXPECTED = {  # each title → what its failure message says (None: indexed)
    "Good": None,
    "Truncated MP3": None,  # what is there decodes: the part that arrived is transcribed
    "Truncated M4A": "not a media file ffmpeg can decode",
    "HTML as media": "it is a web page (HTML): the server answered with a page, not the media",
    "Ten hours, zero bytes": "longer than the limit of 6:00:00 (CASTGRAPH_MAX_DURATION_S)",
    "Zero bytes": "the server sent an empty file",
    "Video only": "has no audio track",
    "An image": "has no audio track",
    "Huge image": "has no audio track",
    "WAV bomb": "contains no audio samples",
    "Silence": "no speech found in 'Silence': the audio is silent",
}


def _run(tmp_path: Path, feed: str) -> tuple[IngestReport, dict[str, Any], _Transcriber]:
    from castgraph.api import wiring

    settings = Settings(data_dir=tmp_path / "data", allow_private_urls=True)
    transcriber = _Transcriber()
    catalog = SqlCatalog(f"sqlite:///{tmp_path / 'catalog.db'}").open()
    try:
        pipeline = IngestPipeline(catalog, _stages(transcriber, settings), settings.media_dir)
        report = pipeline.run(wiring.sources(settings, [feed]), IngestOptions())
        episodes = {e.title: e for e in catalog.list_episodes()}
    finally:
        catalog.close()
    return report, episodes, transcriber


def test_hostile_items_fail_alone_with_clear_messages_and_leave_nothing_on_disk(
    media_server: MediaServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    feed = _serve(media_server, tmp_path / "work")
    report, episodes, transcriber = _run(tmp_path, feed)
    outcome = {title: (e.state.value, e.error) for title, e in episodes.items()}
    assert not report.source_errors
    assert sorted(e.title for e in report.indexed) == ["Good", "Truncated MP3"]
    for title, message in EXPECTED.items():
        if message is None:
            continue
        state, error = outcome[title]
        assert state == "failed", title
        assert message in str(error), (title, error)
        assert classify(error) != "other", (title, error)
    media = tmp_path / "data" / "media"
    failed_ids = {e.id for e in report.failed}
    left = sorted(str(p.relative_to(media)) for p in media.rglob("*") if p.is_file())
    assert [p for p in left if p.split("/")[0] in failed_ids] == []  # nothing of a failure
    assert [p for p in left if p.endswith((".wav", ".tmp", ".part"))] == []
    assert len(transcriber.heard) == 2  # neither silence nor garbage reached speech recognition
