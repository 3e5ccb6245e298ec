"""Parsing WebVTT and SRT captions into transcripts, and downloading them behind the guard."""

from __future__ import annotations

import pytest

from castgraph.core.errors import InputError, SourceError, UnsafeURLError
from castgraph.ingest.captions import fetch_captions, parse_captions, parse_cues, parse_timestamp
from tests.mediaserver import MediaServer, alias_public_host, media_server  # noqa: F401

VTT = """WEBVTT
Kind: captions
Language: en

NOTE This is a comment
that spans two lines

STYLE
::cue { color: yellow }

intro
00:00:01.000 --> 00:00:04.000 align:start position:10%
<v Roger Bingham>We are in New York City</v>

00:00:04.000 --> 00:00:06.500
<v.loud Neil deGrasse Tyson><i>Hello</i> &amp; welcome&nbsp;back

00:06.500 --> 00:08.000
<c.yellow>Karaoke</c> <00:00:07.000><c>style</c> words

01:00:00.000 --> 01:00:01.000
>> Late cue

00:00:09.000 --> 00:00:09.500

"""

SRT = """\ufeff1
00:00:00,500 --> 00:00:02,000
<i>Hola</i> a todos,
bienvenidos.

2
00:00:02,000 --> 00:00:03,250
{\\an8}<font color="#ffffff">¿Qué tal?</font>

"""


def test_timestamps() -> None:
    assert parse_timestamp("01:02:03.500") == pytest.approx(3723.5)
    assert parse_timestamp("02:03,25") == pytest.approx(123.25)
    assert parse_timestamp("00:00:00.001") == pytest.approx(0.001)


def test_vtt_cues_tags_and_voices() -> None:
    cues = parse_cues(VTT)
    assert [c.text for c in cues] == [
        "We are in New York City",
        "Hello & welcome back",
        "Karaoke style words",
        "Late cue",
    ]
    assert [c.speaker for c in cues] == ["Roger Bingham", "Neil deGrasse Tyson", None, None]
    assert (cues[0].start, cues[0].end) == (1.0, 4.0)
    assert (cues[2].start, cues[3].start) == (6.5, 3600.0)


def test_vtt_transcript_words() -> None:
    transcript = parse_captions(VTT, "en")
    assert transcript.source == "captions"
    assert transcript.language == "en"
    assert transcript.duration == pytest.approx(3601.0)
    first = transcript.segments[0]
    assert first.speaker == "Roger Bingham"
    assert [w.text for w in first.words] == ["We", "are", "in", "New", "York", "City"]
    assert first.words[0].start == pytest.approx(1.0)
    assert first.words[-1].end == pytest.approx(4.0)
    assert all(w.probability == 1.0 and w.speaker == "Roger Bingham" for w in first.words)
    # times are contiguous and weighted by word length: "York" (4) lasts twice "in" (2)
    for a, b in zip(first.words, first.words[1:], strict=False):
        assert a.end == pytest.approx(b.start)
    durations = {w.text: w.end - w.start for w in first.words}
    assert durations["York"] == pytest.approx(2 * durations["in"], abs=0.002)


def test_srt_transcript() -> None:
    transcript = parse_captions(SRT, "es")
    assert [s.text for s in transcript.segments] == ["Hola a todos, bienvenidos.", "¿Qué tal?"]
    assert transcript.segments[0].start == 0.5
    assert transcript.segments[1].end == 3.25
    assert transcript.duration == 3.25
    assert [w.text for w in transcript.words] == [
        "Hola",
        "a",
        "todos,",
        "bienvenidos.",
        "¿Qué",
        "tal?",
    ]


def test_windows_line_endings() -> None:
    assert [c.text for c in parse_cues(SRT.replace("\n", "\r\n"))] == [
        "Hola a todos, bienvenidos.",
        "¿Qué tal?",
    ]


def test_not_captions_is_an_input_error() -> None:
    with pytest.raises(InputError, match="no caption cues found"):
        parse_captions("<html><body>nope</body></html>", "en")


def test_fetch_captions_from_server(media_server: MediaServer) -> None:  # noqa: F811
    url = media_server.add_file("subs/en.vtt", VTT)
    text = fetch_captions(url, allow_private=True, timeout=5)
    assert parse_captions(text, "en").segments[0].text == "We are in New York City"


def test_fetch_captions_errors(media_server: MediaServer) -> None:  # noqa: F811
    with pytest.raises(SourceError, match="HTTP 404"):
        fetch_captions(media_server.url("missing.vtt"), allow_private=True, timeout=5)
    with pytest.raises(UnsafeURLError):
        fetch_captions(media_server.url("missing.vtt"), allow_private=False, timeout=5)
    with pytest.raises(UnsafeURLError):
        fetch_captions("file:///etc/passwd", allow_private=False, timeout=5)


def test_fetch_captions_checks_redirects(
    media_server: MediaServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A public captions URL that redirects to a private address is refused."""
    host = alias_public_host(monkeypatch, "captions.test")
    media_server.add_file("en.vtt", VTT)
    target = media_server.url("en.vtt")
    public = media_server.add_redirect("redirect.vtt", target).replace("127.0.0.1", host)
    with pytest.raises(UnsafeURLError, match="redirect target"):
        fetch_captions(public, allow_private=False, timeout=5)
