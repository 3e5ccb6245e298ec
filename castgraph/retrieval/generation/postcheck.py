"""Post-check of LLM answers: a figure the cited sentences do not state is dropped.

An LLM can cite the right moment and still write the wrong number ("40 sensors [1]" where [1]
says thirty). ``check_numbers`` splits an answer into claims (sentences, or list items), reads
the numbers of each claim (digits, or number words in Spanish and English: "veintitrés",
"dos mil diecinueve", "1.500", "3,5 millones") and drops every claim with a number that none of
the sentences it cites contains. The rest of the answer is kept word for word.

A claim without a marker of its own is checked against the citations of the next cited claim of
its paragraph (else the previous one): models often cite once for two sentences. Citations to a
number the support does not hold (invented by the model) support nothing; run
``citations.strip_invented`` *after* this check to remove their markers from the kept text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from castgraph.core.models import Citation
from castgraph.core.text import fold
from castgraph.core.timefmt import clock
from castgraph.retrieval.generation.citations import MARKER, cited_numbers
from castgraph.retrieval.generation.numbers import number_values
from castgraph.retrieval.keyword.analyzer import tokenize

_CLAIM_END = re.compile(r"[.!?…]+[\"'”»)]*(?:\s*\[[\d\s,;]+\])*(?=\s|$)")
_CLOCK = re.compile(r"(?<![\w:])\d{1,2}(?::\d{2}){1,2}(?![\w:])")
"""``mm:ss`` and ``h:mm:ss`` moments: an answer may name the second a sentence was said."""
_PIECE = re.compile(r"(?<!\w)\d+(?:[.,]\d+)*|[^\W\d_]+")
"""Digit groups not glued to a word before them (``SPEAKER_00`` is no figure), and words."""
_CONNECTORS = frozenset({"y", "and"})
_WEAK = frozenset({"one", "uno"})
"""Number words that are a pronoun or an article far more often than a figure ("one of them")."""
_BIG = 1000
_HUNDREDS = {
    f"{stem}ient{ending}": value
    for stem, value in [("dosc", 200), ("tresc", 300), ("cuatroc", 400), ("seisc", 600),
                        ("setec", 700), ("ochoc", 800), ("novec", 900)]
    for ending in ("os", "as")
} | {"quinientos": 500, "quinientas": 500}  # fmt: skip
"""Spanish hundreds, which the relevance scorer's vocabulary leaves out."""


@dataclass(frozen=True, slots=True)
class _Claim:
    """A sentence (or list item) of an answer and the line it is on."""

    text: str
    line: int


def check_numbers(answer: str, support: Mapping[int, str]) -> tuple[str, list[str]]:
    """``answer`` without the claims whose numbers no cited sentence states, and those claims.

    ``support`` maps each citation number to the text its ``[n]`` rests on: the resolved
    sentence(s) of block n (``support_text`` builds it from a cited moment). When no cited claim
    is left the cleaned answer is empty: the caller answers with the not-found sentence.
    """
    claims = _split_claims(answer)
    citations = _claim_citations(claims)
    supported = {n: support_values(text) for n, text in support.items()}
    dropped: list[str] = []
    kept: list[_Claim] = []
    for claim, numbers in zip(claims, citations, strict=True):
        mentions = number_mentions(claim.text)
        values: set[Decimal] = set()
        for n in numbers:
            values |= supported.get(n, set())
        if all(mention & values for mention in mentions):
            kept.append(claim)
        else:
            dropped.append(claim.text)
    if not dropped:
        return answer, []
    if not any(cited_numbers(c.text) for c in kept):  # only a preamble is left ("Según…:")
        return "", dropped
    return _join(answer, kept), dropped


def support_text(citation: Citation) -> str:
    """What a cited moment states: its sentence(s) (the block when unresolved), plus what an
    answer may rightly say about it: the second it was said ("at minute 12"), the episode's title
    and its publication date ("in the episode of May 2024")."""
    parts = [citation.text, clock(citation.start), citation.title]
    if citation.published is not None:
        parts.append(citation.published.isoformat())
    return "\n".join(parts)


def number_mentions(text: str) -> list[frozenset[Decimal]]:
    """Each figure a claim states, as the set of values it may mean ("1.500": 1500 or 1.5).

    Citation markers and ``mm:ss`` moments are not figures; neither is a lone "one"/"uno".
    """
    text = _CLOCK.sub(" ", MARKER.sub(" ", text))
    return [values for values, weak in _expressions(text) if not weak]


def support_values(text: str) -> set[Decimal]:
    """Every value a supporting text states, read generously: each figure, its parts and words."""
    values: set[Decimal] = set()
    for readings, _ in _expressions(text):
        values |= readings
    for piece in _PIECE.findall(fold(text)):
        values |= _piece_values(piece)
    values |= {Decimal(v) for v in number_values(tokenize(text))}
    values |= {Decimal(_HUNDREDS[t]) for t in tokenize(text) if t in _HUNDREDS}
    return values


def _split_claims(answer: str) -> list[_Claim]:
    claims: list[_Claim] = []
    for index, line in enumerate(answer.split("\n")):
        start = 0
        for match in _CLAIM_END.finditer(line):
            if line[start : match.end()].strip():
                claims.append(_Claim(line[start : match.end()].strip(), index))
            start = match.end()
        if line[start:].strip():
            claims.append(_Claim(line[start:].strip(), index))
    return claims


def _claim_citations(claims: Sequence[_Claim]) -> list[list[int]]:
    """Each claim's citations; an uncited claim borrows from the next (else previous) cited
    claim of its line."""
    own = [cited_numbers(c.text) for c in claims]
    result: list[list[int]] = []
    for i, claim in enumerate(claims):
        if own[i]:
            result.append(own[i])
            continue
        same_line = [j for j, c in enumerate(claims) if c.line == claim.line and own[j]]
        after = [j for j in same_line if j > i]
        before = [j for j in same_line if j < i]
        pick = after[0] if after else (before[-1] if before else None)
        result.append(own[pick] if pick is not None else [])
    return result


def _join(answer: str, kept: Iterable[_Claim]) -> str:
    """The kept claims, line by line; lines whose claims were all dropped disappear."""
    by_line: dict[int, list[str]] = {}
    for claim in kept:
        by_line.setdefault(claim.line, []).append(claim.text)
    lines: list[str] = []
    for index, line in enumerate(answer.split("\n")):
        if not line.strip():
            lines.append("")
        elif index in by_line:
            lines.append(" ".join(by_line[index]))
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _expressions(text: str) -> list[tuple[frozenset[Decimal], bool]]:
    """Figures of ``text`` as (possible values, weak) pairs: digit groups, optionally scaled by
    a word ("3 millones"), and runs of number words composed ("veinte y tres" = 23)."""
    found: list[tuple[frozenset[Decimal], bool]] = []
    reader = _Reader(found)
    for piece in _PIECE.findall(fold(text)):
        reader.feed(piece)
    reader.close()
    return found


class _Reader:
    """Composes number words into figures, one piece at a time."""

    def __init__(self, out: list[tuple[frozenset[Decimal], bool]]) -> None:
        self._out = out
        self._total: set[Decimal] = set()
        self._current: set[Decimal] = set()
        self._last: int | None = None
        self._words: list[str] = []
        self._active = False

    def feed(self, piece: str) -> None:
        if piece[0].isdigit():
            self.close()
            self._start(_piece_values(piece), None, piece)
            return
        if piece in _CONNECTORS and self._active:
            return
        value = _word_value(piece)
        if value is None:
            self.close()
        elif value >= _BIG:
            self._scale(value, piece)
        elif (
            value == 100
            and piece not in ("cien", "ciento")
            and self._active
            and self._last is not None
            and self._last < 100
        ):
            self._current = {c * 100 for c in self._current}
            self._last, self._words = 100, [*self._words, piece]
        elif self._active and self._last is not None and _adds(self._last, value):
            self._current = {c + value for c in self._current}
            self._last, self._words = value, [*self._words, piece]
        else:
            self.close()
            self._start({Decimal(value)}, value, piece)

    def close(self) -> None:
        if not self._active:
            return
        values = frozenset(t + c for t in self._total or {Decimal(0)} for c in self._current)
        weak = len(self._words) == 1 and self._words[0] in _WEAK
        self._out.append((values, weak))
        self._active = False

    def _start(self, values: set[Decimal], last: int | None, piece: str) -> None:
        self._total, self._current = set(), set(values)
        self._last, self._words, self._active = last, [piece], True

    def _scale(self, value: int, piece: str) -> None:
        """ "mil", "millones", "thousand": multiply what came before (or stand for themselves)."""
        if not self._active or (self._last is not None and self._last >= value):
            self.close()
            self._start({Decimal(0)}, value, piece)
            self._total = {Decimal(value)}
            return
        base = self._current if any(self._current) else {Decimal(1)}
        self._total = {t + b * value for t in self._total or {Decimal(0)} for b in base}
        self._current = {Decimal(0)}
        self._last, self._words = value, [*self._words, piece]


def _adds(last: int, value: int) -> bool:
    """Whether ``value`` continues a figure ending in ``last``: 20 + 3, 100 + 50, 1000 + 19."""
    if last >= 100:
        return value < last
    return last in range(20, 100, 10) and 0 < value < 10


def _word_value(word: str) -> int | None:
    if word in _HUNDREDS:
        return _HUNDREDS[word]
    values = number_values([word])
    return next(iter(values)) if len(values) == 1 else None


def _piece_values(piece: str) -> set[Decimal]:
    """Readings of a digit group: "1.500" is 1500 or 1.5, "3,5" is 3.5, "2024" is 2024."""
    if not piece[0].isdigit():
        value = _word_value(piece)
        return {Decimal(value)} if value is not None else set()
    parts = re.split(r"[.,]", piece)
    if len(parts) == 1:
        return {Decimal(piece)}
    readings: set[Decimal] = set()
    if all(len(p) == 3 for p in parts[1:]):
        readings.add(Decimal("".join(parts)))
    if len(parts) == 2:
        readings.add(Decimal(f"{parts[0]}.{parts[1]}"))
    return readings or {Decimal(p) for p in parts}
