"""Typing heuristics: person, organization, place or other, from all mentions of one name.

Evidence, strongest first: a known person (a named speaker); an organisation keyword inside the
name ("Universidad", "Lab"); the place gazetteer; an acronym; an honorific ("Sr.", "Doña"); the
word before a mention ("la doctora X" → person, "la panadería X" → organization, "la avenida X"
→ place); a place keyword inside the name ("Parque", "Mercado"); a known given name as first
word; finally place prepositions ("en X", "desde X", "in X"; "de X", "a X", "to X" count half).
A proper noun with no evidence is typed ``"other"``: guessing "person" would put shows, books
and brands among the people of the graph.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from castgraph.ingest.extract.candidates import Mention
from castgraph.ingest.extract.gazetteer import GIVEN_NAMES, PLACES
from castgraph.ingest.extract.lexicon import (
    HONORIFIC_WORDS,
    ORG_CUES,
    ORG_KEYWORDS,
    PERSON_CUES,
    PLACE_CUES,
    PLACE_KEYWORDS,
    STRONG_PLACE_PREPOSITIONS,
    WEAK_PLACE_PREPOSITIONS,
)

__all__ = ["Typed", "classify"]

_PLACE_THRESHOLD = 2
_OF = frozenset({"de", "del", "of"})


class Typed(NamedTuple):
    """A type and whether it rests on firm evidence (not just prepositions, not a default)."""

    type: str
    firm: bool


def classify(key: str, mentions: Sequence[Mention], known_people: frozenset[str]) -> Typed:
    """The type of the entity with merge key ``key``, mentioned as ``mentions``."""
    words = key.split()
    if key in known_people:
        return Typed("person", True)
    if any(w in ORG_KEYWORDS for w in words):
        return Typed("organization", True)
    place_score = _place_score(mentions)
    if key in PLACES and not (len(words) == 1 and words[0] in GIVEN_NAMES and place_score < 2):
        return Typed("place", True)
    if any(m.acronym for m in mentions):
        return Typed("organization", True)
    cue = _cue(mentions) or _name_shape(words)
    if cue:
        return Typed(cue, True)
    return Typed("place" if place_score >= _PLACE_THRESHOLD else "other", False)


def _cue(mentions: Sequence[Mention]) -> str | None:
    """The type the words before the mentions (or an honorific) point at, if any."""
    if any(m.honorific or m.words[0] in HONORIFIC_WORDS for m in mentions):
        return "person"
    for kind, cues in (("person", PERSON_CUES), ("organization", ORG_CUES)):
        if any(m.prev[:1] and m.prev[0] in cues for m in mentions):
            return kind
    if any(_after_place_noun(m.prev) for m in mentions):
        return "place"
    return None


def _after_place_noun(prev: tuple[str, ...]) -> bool:
    if not prev:
        return False
    return prev[0] in PLACE_CUES or (len(prev) > 1 and prev[0] in _OF and prev[1] in PLACE_CUES)


def _name_shape(words: Sequence[str]) -> str | None:
    if any(w in PLACE_KEYWORDS for w in words):
        return "place"
    if words[0] in GIVEN_NAMES:
        return "person"
    return None


def _place_score(mentions: Sequence[Mention]) -> int:
    score = 0
    for m in mentions:
        if m.prev[:1] and m.prev[0] in STRONG_PLACE_PREPOSITIONS:
            score += 2
        elif m.prev[:1] and m.prev[0] in WEAK_PLACE_PREPOSITIONS:
            score += 1
    return score
