"""The demo channel builds with real espeak-ng and ffmpeg, and the real yt-dlp reads its feed."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from castgraph.core.errors import InputError
from castgraph.demo import DemoChannel, build_demo, serve_demo, synth

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed"),
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoChannel:
    return build_demo(tmp_path_factory.mktemp("demo"))


def _decoded_seconds(path: Path) -> float:
    pcm = subprocess.run(
        [
            synth.ffmpeg_binary(),
            "-nostdin",
            "-v",
            "error",
            "-i",
            str(path),
            "-f",
            "s16le",
            "-ac",
            "1",
            "-ar",
            str(synth.SAMPLE_RATE),
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout
    return len(pcm) / 2 / synth.SAMPLE_RATE


def test_episodes_have_plausible_audio(demo: DemoChannel) -> None:
    assert len(demo.episodes) == 3
    for episode in demo.episodes:
        assert episode.audio_path.stat().st_size > 100_000
        assert 60 <= episode.duration <= 150, episode.script.id
        assert synth.wav_duration(episode.wav_path) == pytest.approx(episode.duration, abs=0.01)
        assert _decoded_seconds(episode.audio_path) == pytest.approx(episode.duration, abs=0.1)


def test_turn_timings_match_the_audio(demo: DemoChannel) -> None:
    for episode in demo.episodes:
        _, samples = synth.read_wav(episode.wav_path)
        turns = episode.turns
        assert [t.index for t in turns] == list(range(len(episode.script.turns)))
        assert turns[0].start == pytest.approx(synth.LEAD_IN, abs=0.002)
        assert episode.duration - turns[-1].end == pytest.approx(synth.TAIL, abs=0.002)
        for before, after in itertools.pairwise(turns):
            assert 0.29 <= after.start - before.end <= 0.81
            gap = samples[
                round((before.end + 0.002) * 16_000) : round((after.start - 0.002) * 16_000)
            ]
            assert np.abs(gap).max() < 1e-3, "silence expected between turns (times are to 1 ms)"
        for turn in turns:
            speech = samples[int(turn.start * 16_000) : int(turn.end * 16_000)]
            assert np.sqrt(np.mean(speech**2)) > 0.02, "speech expected inside a turn"
            assert turn.name == episode.script.speaker_name(turn.speaker)
        for moment in episode.gold_moments():
            assert turns[0].start <= moment.start < moment.end <= turns[-1].end


def test_build_is_idempotent_and_deterministic(demo: DemoChannel) -> None:
    before = {e.audio_path: e.audio_path.read_bytes() for e in demo.episodes}
    again = build_demo(demo.folder)
    assert [e.synthesized for e in again.episodes] == [False, False, False]
    assert [e.turns for e in again.episodes] == [e.turns for e in demo.episodes]
    assert {e.audio_path: e.audio_path.read_bytes() for e in again.episodes} == before
    forced = build_demo(demo.folder, force=True)
    assert [e.synthesized for e in forced.episodes] == [True, True, True]
    assert {e.audio_path: e.audio_path.read_bytes() for e in forced.episodes} == before


def test_served_feed_resolves_with_yt_dlp(demo: DemoChannel, tmp_path: Path) -> None:
    import yt_dlp

    with serve_demo(demo.folder, port=0) as feed_url:
        base = feed_url.rsplit("/", 1)[0] + "/"
        with urllib.request.urlopen(feed_url, timeout=10) as response:
            root = ET.fromstring(response.read())
        enclosures = [e.attrib for e in root.iter("enclosure")]
        assert len(enclosures) == 3
        assert all(e["url"].startswith(base) and e["type"] == "audio/mpeg" for e in enclosures)

        params = {"quiet": True, "noprogress": True, "extract_flat": "in_playlist"}
        with yt_dlp.YoutubeDL(params) as ydl:
            info = ydl.extract_info(feed_url, download=False)
        assert info["title"] == demo.channel.title
        assert len(info["entries"]) == 3

        first = demo.episodes[0]
        url = base + first.audio_path.relative_to(demo.folder).as_posix()
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.read() == first.audio_path.read_bytes()
        ranged = urllib.request.Request(url, headers={"Range": "bytes=100-1099"})
        with urllib.request.urlopen(ranged, timeout=10) as response:
            assert response.status == 206
            assert response.read() == first.audio_path.read_bytes()[100:1100]

        entry = next(e for e in info["entries"] if first.script.id in e["url"])
        out = {"quiet": True, "noprogress": True, "outtmpl": str(tmp_path / "%(id)s.%(ext)s")}
        with yt_dlp.YoutubeDL(out) as ydl:
            got = ydl.extract_info(entry["url"], download=True)
        assert got["id"] == first.script.id
        assert (tmp_path / f"{first.script.id}.mp3").read_bytes() == first.audio_path.read_bytes()


def test_a_busy_port_is_a_clear_error(demo: DemoChannel) -> None:
    with serve_demo(demo.folder) as feed:
        port = int(feed.split(":")[2].split("/")[0])
        with pytest.raises(InputError, match="choose another port"), serve_demo(demo.folder, port):
            pass
