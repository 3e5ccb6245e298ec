"""Human-made captions (WebVTT, SubRip) → a ``Transcript``, and their download.

Each cue becomes a ``Segment``; its words get times spread over the cue in proportion to their
length (captions carry no word timings), with probability 1.0. A WebVTT voice tag
``<v Name>`` becomes the segment's (and words') speaker hint.
"""

from __future__ import annotations

import html
import logging
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.client import HTTPMessage
from typing import IO, Any

from castgraph.core.errors import CastgraphError, InputError, SourceError
from castgraph.core.models import MediaItem, Segment, Transcript, Word
from castgraph.ingest.sources import connectguard
from castgraph.ingest.sources.urlguard import URLGuard

log = logging.getLogger(__name__)

MAX_CAPTIONS_BYTES = 20 * 1024 * 1024
"""Caption files larger than this are refused (a real one is a few hundred kB at most)."""

_TIMING = re.compile(
    r"^\s*(?P<start>(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})\s*-->\s*"
    r"(?P<end>(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})(?P<settings>.*)$"
)
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?\s+([^>]+)>")
_TAG = re.compile(r"<[^>]*>")
_ASS_TAG = re.compile(r"\{\\[^}]*\}")
_SPEAKER_MARK = re.compile(r"(?:^|\s)>>\s*")


@dataclass(frozen=True, slots=True)
class Cue:
    """One caption cue: a time span, its plain text and an optional speaker hint."""

    start: float
    end: float
    text: str
    speaker: str | None = None


def parse_timestamp(value: str) -> float:
    """``"01:02:03.500"``, ``"02:03,5"`` or ``"02:03.500"`` → seconds."""
    clock, _, fraction = value.strip().replace(",", ".").partition(".")
    parts = [int(p) for p in clock.split(":")]
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + part
    return seconds + (int(fraction) / 10 ** len(fraction) if fraction else 0.0)


def _clean_text(lines: list[str]) -> tuple[str, str | None]:
    """Join cue lines into plain text; return it with the first voice tag's name, if any."""
    raw = " ".join(line.strip() for line in lines)
    voice = _VOICE.search(raw)
    text = _ASS_TAG.sub("", _TAG.sub("", raw))
    text = _SPEAKER_MARK.sub(" ", html.unescape(text))
    text = text.replace("\u200e", "").replace("\u200f", "").replace("\xa0", " ")
    return " ".join(text.split()), (voice.group(1).strip() if voice else None)


def parse_cues(text: str) -> list[Cue]:
    """The cues of a WebVTT or SRT document, sorted by start; empty cues are dropped."""
    cues: list[Cue] = []
    blocks = re.split(
        r"\n[ \t]*\n", text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    )
    for block in blocks:
        lines = [line for line in block.split("\n") if line.strip()]
        timing_at = next((i for i, line in enumerate(lines) if _TIMING.match(line)), None)
        if timing_at is None:
            continue  # WEBVTT header, NOTE, STYLE, REGION or a stray line
        match = _TIMING.match(lines[timing_at])
        assert match is not None
        body, speaker = _clean_text(lines[timing_at + 1 :])
        if not body:
            continue
        start, end = parse_timestamp(match["start"]), parse_timestamp(match["end"])
        cues.append(Cue(start, max(start, end), body, speaker))
    cues.sort(key=lambda c: (c.start, c.end))
    return cues


def _words(cue: Cue) -> tuple[Word, ...]:
    """The cue's words, its time spread over them in proportion to their length."""
    tokens = cue.text.split()
    total = sum(len(t) for t in tokens)
    span = cue.end - cue.start
    words: list[Word] = []
    done = 0
    for token in tokens:
        start = cue.start + span * done / total
        done += len(token)
        end = cue.start + span * done / total
        words.append(Word(token, round(start, 3), round(end, 3), 1.0, cue.speaker))
    return tuple(words)


def parse_captions(text: str, language: str) -> Transcript:
    """Parse WebVTT or SRT text into a ``Transcript`` (``source="captions"``).

    Raises ``InputError`` when the text holds no timed cue at all.
    """
    cues = parse_cues(text)
    if not cues:
        head = text.strip()[:60].replace("\n", " ")
        raise InputError(f"no caption cues found (expected WebVTT or SRT, got {head!r})")
    segments = tuple(
        Segment(c.start, c.end, c.text, speaker=c.speaker, words=_words(c)) for c in cues
    )
    return Transcript(
        language=language,
        segments=segments,
        duration=max(c.end for c in cues),
        source="captions",
    )


class _GuardedRedirects(urllib.request.HTTPRedirectHandler):
    """Re-checks every redirect target with the URL guard before following it."""

    def __init__(self, guard: URLGuard) -> None:
        self._guard = guard

    def redirect_request(
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
        headers: HTTPMessage, newurl: str,
    ) -> urllib.request.Request | None:  # fmt: skip
        self._guard(newurl, what="captions redirect target")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def fetch_captions(url: str, *, allow_private: bool, timeout: float) -> str:
    """Download a caption file's text (URL guard applied to the URL, every redirect and every
    address connected to)."""
    guard = URLGuard(allow_private=allow_private)
    guard(url, what="captions URL")
    handlers = [] if allow_private else connectguard.urllib_handlers(guard, url)
    opener = urllib.request.build_opener(_GuardedRedirects(guard), *handlers)
    request = urllib.request.Request(url, headers={"User-Agent": "castgraph"})
    try:
        with opener.open(request, timeout=timeout) as response:
            data: bytes = response.read(MAX_CAPTIONS_BYTES + 1)
            charset = _charset(response)
    except CastgraphError:
        raise
    except urllib.error.HTTPError as e:
        raise SourceError(f"could not download captions {url}: HTTP {e.code} {e.reason}") from e
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise SourceError(
            f"could not download captions {url}: {reason}; check the network and try again"
        ) from e
    if len(data) > MAX_CAPTIONS_BYTES:
        raise SourceError(f"captions {url} are larger than {MAX_CAPTIONS_BYTES} bytes: refused")
    log.debug("downloaded %d bytes of captions from %s", len(data), url)
    return data.decode(charset or "utf-8-sig", errors="replace")


def _charset(response: Any) -> str | None:
    headers = getattr(response, "headers", None)
    value = headers.get_content_charset() if headers is not None else None
    return str(value) if value else None


def load_item_captions(
    item: MediaItem, language: str | None, *, allow_private: bool, timeout: float
) -> Transcript | None:
    """The item's human-made captions as a transcript, or None when it has none.

    ``language`` picks the track when given (``es`` also matches ``es-419``); otherwise the first
    listed track is used.
    """
    if not item.captions:
        return None
    chosen = next(iter(item.captions.items()))
    if language:
        matches = [
            (lang, url)
            for lang, url in item.captions.items()
            if lang == language or lang.split("-")[0] == language
        ]
        if not matches:
            return None
        chosen = matches[0]
    lang, url = chosen
    text = fetch_captions(url, allow_private=allow_private, timeout=timeout)
    return parse_captions(text, lang.split("-")[0])
