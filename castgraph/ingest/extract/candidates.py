"""Proper-noun candidates: runs of capitalised words found without a POS tagger.

A run is a sequence of capitalised words, possibly joined by lower-case connectors ("Banco de la
Nación", "Institute of Technology"), never across punctuation. The edges of a run lose greetings,
days, months and demonyms, and at the start of a sentence also function words. A capitalised word
that opens a sentence keeps its place in a name only when something corroborates it: it is a
known given name, place or keyword, or it is capitalised mid-sentence elsewhere in the episode.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from castgraph.core.text import entity_key, fold
from castgraph.ingest.extract.gazetteer import GIVEN_NAMES, PLACE_FIRST_WORDS, PLACES
from castgraph.ingest.extract.lexicon import (
    ALWAYS_DROP,
    CONNECTORS,
    FUNCTION_WORDS,
    HONORIFIC_ABBREVIATIONS,
    HONORIFIC_WORDS,
    JOINING_CONNECTORS,
    ORG_CUES,
    ORG_KEYWORDS,
    PERSON_CUES,
    PLACE_CUES,
    PLACE_KEYWORDS,
    TOPIC_STOPWORDS,
)

__all__ = ["Mention", "Token", "find_mentions", "midsentence_capitals", "tokenize"]

_WORD = re.compile(r"\w+(?:['’\-]\w+)*", re.UNICODE)
_BOUNDARY = frozenset('.?!…:¿¡"“«\n')
_ARTICLES = frozenset({"el", "la", "los", "las", "lo", "un", "una", "the", "an"})
_MAX_INNER_CONNECTORS = 2
_EDGE_DROP = ALWAYS_DROP | FUNCTION_WORDS
_HEAD_KEYWORDS = ORG_KEYWORDS | PLACE_KEYWORDS
# Titles and kind-words that name nobody on their own ("Gracias, Doctor.", "el Club").
_NOT_A_NAME_ALONE = HONORIFIC_ABBREVIATIONS | HONORIFIC_WORDS | PERSON_CUES | ORG_CUES | PLACE_CUES
_CORROBORATING = GIVEN_NAMES | ORG_KEYWORDS | PLACE_KEYWORDS | HONORIFIC_WORDS | PLACE_FIRST_WORDS


@dataclass(frozen=True, slots=True)
class Token:
    """A word of a chunk with its character span and what precedes it."""

    text: str
    key: str
    start: int
    end: int
    gap: str
    initial: bool
    possessive: bool = False

    @property
    def cap(self) -> bool:
        return self.text[:1].isupper()

    @property
    def acronym(self) -> bool:
        return self.text.isalpha() and self.text.isupper() and 2 <= len(self.text) <= 6


@dataclass(frozen=True, slots=True)
class Mention:
    """A proper-noun candidate in one chunk."""

    surface: str
    key: str
    words: tuple[str, ...]
    start: int
    end: int
    initial: bool
    honorific: bool
    acronym: bool
    prev: tuple[str, ...]
    """Folded words right before the mention (nearest first, articles skipped, no punctuation)."""


def tokenize(text: str) -> list[Token]:
    """Words of ``text`` with sentence-initial flags; English possessives are cut off."""
    tokens: list[Token] = []
    last_end = 0
    for match in _WORD.finditer(text):
        word, start, end = match.group(), match.start(), match.end()
        possessive = word[-2:] in ("'s", "’s") and len(word) > 2
        if possessive:
            word, end = word[:-2], end - 2
        gap = "".join(text[last_end:start].split())
        prev = tokens[-1] if tokens else None
        initial = prev is None or _is_boundary(gap, prev)
        tokens.append(
            Token(word, fold(word).replace("’", "'"), start, end, gap, initial, possessive)
        )
        last_end = match.end()
    return tokens


def _is_boundary(gap: str, prev: Token) -> bool:
    if gap == "." and prev.key in HONORIFIC_ABBREVIATIONS:
        return False
    return any(c in _BOUNDARY for c in gap)


def midsentence_capitals(chunks: Iterable[Sequence[Token]]) -> frozenset[str]:
    """Folded words written capitalised somewhere other than at the start of a sentence."""
    return frozenset(t.key for tokens in chunks for t in tokens if t.cap and not t.initial)


def find_mentions(tokens: Sequence[Token], text: str, midcaps: frozenset[str]) -> list[Mention]:
    """The proper-noun candidates of one chunk, in text order."""
    mentions: list[Mention] = []
    for start, end in _runs(tokens):
        for s, e in _split(tokens, start, end):
            span = _trim(tokens, s, e, midcaps)
            if span is not None:
                mention = _mention(tokens, text, *span)
                if mention is not None:
                    mentions.append(mention)
    return mentions


def _runs(tokens: Sequence[Token]) -> list[tuple[int, int]]:
    """Raw [start, end) token spans of capitalised words and inner connectors."""
    runs: list[tuple[int, int]] = []
    i, n = 0, len(tokens)
    while i < n:
        if not tokens[i].cap:
            i += 1
            continue
        j = end = i + 1
        while j < n and _continues(tokens, j) and not tokens[j - 1].possessive:
            if tokens[j].cap:
                j = end = j + 1
            elif tokens[j].key in CONNECTORS and tokens[j].text.islower() and j - end < 2:
                j += 1
            else:
                break
        runs.append((i, end))
        i = end
    return runs


def _continues(tokens: Sequence[Token], j: int) -> bool:
    """Whether nothing but spaces (or the dot of "Sr.") separates token ``j`` from the last."""
    gap = tokens[j].gap
    return not gap or (gap == "." and tokens[j - 1].key in HONORIFIC_ABBREVIATIONS)


def _split(tokens: Sequence[Token], start: int, end: int) -> list[tuple[int, int]]:
    """Split a run where it joins two names: at "y"/"and" (unless inside an organisation's name,
    "Ministerio de Ciencia y Tecnología"), and at "de" between a person and a place or an
    organisation ("Marta de Avellaneda", "Valeria Quiroga del Observatorio Urbano")."""
    for i in range(start + 1, end - 1):
        tok = tokens[i]
        if tok.cap:
            continue
        if tok.key in JOINING_CONNECTORS and not _inner_conjunction(tokens, start, i, end):
            return [(start, i), *_split(tokens, i + 1, end)]
        if tok.key in ("de", "del") and _person_of(tokens, start, i, end):
            return [(start, i), (i + 1, end)]
    return [(start, end)]


def _inner_conjunction(tokens: Sequence[Token], start: int, mid: int, end: int) -> bool:
    after = tokens[mid + 1]
    return (
        any(t.key in ORG_KEYWORDS for t in tokens[start:mid])
        and after.cap
        and after.key not in ORG_KEYWORDS
    )


def _person_of(tokens: Sequence[Token], start: int, mid: int, end: int) -> bool:
    """Whether a given-name-led name precedes ``mid`` and a place or organisation follows it."""
    left = tokens[start:mid]
    if not (all(t.cap for t in left) and left[0].key in GIVEN_NAMES):
        return False
    right = [t for t in tokens[mid + 1 : end] if t.key not in _ARTICLES]
    right_key = entity_key(" ".join(t.text for t in right))
    return right_key in PLACES or (bool(right) and right[0].key in _HEAD_KEYWORDS)


def _trim(
    tokens: Sequence[Token], s: int, e: int, midcaps: frozenset[str]
) -> tuple[int, int, bool] | None:
    """Strip the edges of a run; returns (start, end, honorific) or None when nothing is left."""
    honorific = False
    while s < e and not _known_place_at(tokens, s, e):
        tok = tokens[s]
        if tok.key in HONORIFIC_ABBREVIATIONS and tok.cap and s + 1 < e:
            honorific = True
        elif not (tok.key in ALWAYS_DROP or not tok.cap or _weak_start(tokens, s, e)):
            break
        s += 1
    while e > s and (not tokens[e - 1].cap or tokens[e - 1].key in _EDGE_DROP):
        e -= 1
    if e - s >= 2 and tokens[s].initial and not _corroborated(tokens[s], midcaps):
        s += 1
        while s < e and not tokens[s].cap:
            s += 1
    return (s, e, honorific) if s < e else None


def _known_place_at(tokens: Sequence[Token], s: int, e: int) -> bool:
    """Whether a gazetteer place of two to four words starts at token ``s`` ("Buenos Aires")."""
    return any(
        " ".join(t.key for t in tokens[s : s + n]) in PLACES for n in range(2, min(4, e - s) + 1)
    )


def _weak_start(tokens: Sequence[Token], s: int, e: int) -> bool:
    """A capitalised function word opening a run is part of the name only mid-sentence."""
    tok = tokens[s]
    if tok.key not in FUNCTION_WORDS or (tok.acronym and tok.key in PLACES):
        return False
    return tok.initial or s + 1 >= e or not tokens[s + 1].cap


def _corroborated(tok: Token, midcaps: frozenset[str]) -> bool:
    return tok.acronym or tok.key in midcaps or tok.key in _CORROBORATING


def _mention(tokens: Sequence[Token], text: str, s: int, e: int, honorific: bool) -> Mention | None:
    first, last = tokens[s], tokens[e - 1]
    words = tuple(t.key for t in tokens[s:e])
    acronym = e - s == 1 and first.acronym
    if e - s == 1 and not _plausible_single(first):
        return None
    surface = " ".join(text[first.start : last.end].split())
    prev = _previous_words(tokens, s)
    honorific = honorific or any(p in HONORIFIC_ABBREVIATIONS for p in prev[:1])
    return Mention(
        surface=surface,
        key=entity_key(surface),
        words=words,
        start=first.start,
        end=last.end,
        initial=first.initial,
        honorific=honorific,
        acronym=acronym,
        prev=prev,
    )


def _plausible_single(tok: Token) -> bool:
    if tok.acronym and tok.key in PLACES:
        return True
    if len(tok.text) < 2 or not tok.text[0].isalpha():
        return False
    if tok.key in TOPIC_STOPWORDS or tok.key in _NOT_A_NAME_ALONE:
        return False
    return tok.acronym or not tok.text.isupper() or len(tok.text) <= 6


def _previous_words(tokens: Sequence[Token], s: int, limit: int = 2) -> tuple[str, ...]:
    """Up to ``limit`` words before token ``s`` in the same clause, articles skipped."""
    found: list[str] = []
    i = s
    while i > 0 and len(found) < limit and _continues(tokens, i):
        i -= 1
        if tokens[i].key not in _ARTICLES:
            found.append(tokens[i].key)
    return tuple(found)
