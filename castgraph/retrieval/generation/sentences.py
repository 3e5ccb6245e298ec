"""Sentences of transcript text, as spans, for quoting: cleaning, splitting, capping.

Transcript text is untrusted: it is cleaned of control and bidirectional-override characters
and its square brackets become parentheses, so that a quote can never carry a fake ``[n]``
citation marker. Spans are offsets into the cleaned text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


MAX_QUOTE_CHARS = 300
_LONG = 280
"""Sentences longer than this are split at clause boundaries (ASR run-ons), then at words."""
_WINDOW_WORDS = 40
_MIN_WORDS = 3
"""Shorter sentences ("Sirve, Marta.") are quoted together with their neighbour."""

# C0/C1 controls (tab and newline become spaces below), zero-width, bidi and BOM characters.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]"
)
_SPACE = re.compile(r"\s+")
_BRACKETS = str.maketrans("[]", "()")
_END = re.compile(r"[.!?…]+[\"'”»)]*\s+")
_CLAUSE = re.compile(r"[,;:]\s+")
_ABBREVIATIONS = _words("dr dra sr sra srta mr mrs ms st prof ing lic av etc vs ej nro pag vol")


@dataclass(frozen=True, slots=True)
class Span:
    """A sentence of a cleaned text: ``text[start:end]``."""

    start: int
    end: int


def clean(text: str) -> str:
    """``text`` without invisible characters, with single spaces and no square brackets."""
    return _SPACE.sub(" ", _INVISIBLE.sub("", text)).translate(_BRACKETS).strip()


def split_sentences(text: str) -> list[Span]:
    """Sentence spans of a cleaned text; long ones split, very short ones joined to a neighbour."""
    spans: list[Span] = []
    for sentence in _sentence_spans(text):
        spans.extend(_split_long(text, sentence))
    return _join_short(text, spans)


def cap_quote(text: str, limit: int = MAX_QUOTE_CHARS) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, with "…" when cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-—") + "…"


def _sentence_spans(text: str) -> list[Span]:
    spans: list[Span] = []
    start = 0
    for match in _END.finditer(text):
        after = text[match.end() : match.end() + 2]
        if not _starts_sentence(after) or _after_abbreviation(text, match.start()):
            continue
        spans.append(Span(start, match.end()))
        start = match.end()
    if start < len(text):
        spans.append(Span(start, len(text)))
    return [_trim(text, s) for s in spans if text[s.start : s.end].strip()]


def _starts_sentence(after: str) -> bool:
    """Whisper capitalises sentence starts; a lower-case word after "." is more likely not one."""
    first = after.lstrip('¿¡"“«(')[:1]
    return bool(first) and (first.isupper() or first.isdigit())


def _after_abbreviation(text: str, dot: int) -> bool:
    word = re.search(r"(\w+)$", text[max(0, dot - 6) : dot])
    return word is not None and word.group(1).lower() in _ABBREVIATIONS


def _trim(text: str, span: Span) -> Span:
    start, end = span.start, span.end
    while start < end and text[start] == " ":
        start += 1
    while end > start and text[end - 1] == " ":
        end -= 1
    return Span(start, end)


def _split_long(text: str, span: Span) -> list[Span]:
    """A run-on sentence as clause-sized pieces, each at most ``_LONG`` characters if it can."""
    if span.end - span.start <= _LONG:
        return [span]
    cuts = [m.end() for m in _CLAUSE.finditer(text, span.start, span.end)]
    pieces: list[Span] = []
    start = span.start
    last = span.start
    for cut in [*cuts, span.end]:
        if cut - start > _LONG and last > start:
            pieces.append(_trim(text, Span(start, last)))
            start = last
        last = cut
    pieces.append(_trim(text, Span(start, span.end)))
    return [w for p in pieces for w in _word_windows(text, p)]


def _word_windows(text: str, span: Span) -> list[Span]:
    """Windows of ``_WINDOW_WORDS`` words for a piece without usable punctuation."""
    if span.end - span.start <= _LONG:
        return [span]
    words = list(re.finditer(r"\S+", text[span.start : span.end]))
    windows: list[Span] = []
    for i in range(0, len(words), _WINDOW_WORDS):
        chunk = words[i : i + _WINDOW_WORDS]
        windows.append(Span(span.start + chunk[0].start(), span.start + chunk[-1].end()))
    return windows


def _join_short(text: str, spans: list[Span]) -> list[Span]:
    joined: list[Span] = []
    pending: Span | None = None
    for span in spans:
        if pending is not None:
            span = Span(pending.start, span.end)
            pending = None
        if len(text[span.start : span.end].split()) < _MIN_WORDS:
            pending = span
            continue
        joined.append(span)
    if pending is not None:
        if joined:
            joined[-1] = Span(joined[-1].start, pending.end)
        else:
            joined.append(pending)
    return joined
