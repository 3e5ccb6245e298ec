"""A few precise relation patterns, Spanish and English, between adjacent mentions.

Only the text between two consecutive mentions of one chunk is matched (folded), and only when
the mention types fit: person → organization for ``works_at`` and ``founded``, person → place
for ``born_in``. First-person forms ("Trabajo en X", "I was born in X") bind to the chunk's
speaker when exactly one named speaker holds the chunk.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from itertools import pairwise

from castgraph.core.text import fold
from castgraph.ingest.extract.candidates import Mention

__all__ = ["find_pattern_relations"]

_ART = r"(?:(?:el|la|los|las|the)\s+)?"
_GAP_PATTERNS: tuple[tuple[str, str, str, re.Pattern[str]], ...] = (
    (
        "founded",
        "person",
        "organization",
        re.compile(
            r"^\s*,?\s*(?:(?:que|quien|who)\s+)?(?:(?:co-?)?fundo|(?:co-?)?founded|"
            r"(?:(?:el|la|the|an?)\s+)?(?:co-?)?(?:fundador|fundadora|founder)\s+(?:de|del|of))"
            rf"\s+{_ART}$"
        ),
    ),
    (
        "works_at",
        "person",
        "organization",
        re.compile(
            r"^\s*,?\s*(?:(?:que|quien|who)\s+)?(?:trabaja|trabajaba|trabajo|works|worked|"
            r"is\s+working)\s+(?:en|para|at|for|with)\s+"
            rf"{_ART}$"
        ),
    ),
    (
        "works_at",
        "person",
        "organization",
        re.compile(
            r"^\s*,\s*(?:(?:an?|the|un|una|el|la)\s+)?(?:[a-z]+\s+){1,3}?(?:at|of|en|del|de)\s+"
            rf"{_ART}$"
        ),
    ),
    (
        "born_in",
        "person",
        "place",
        re.compile(r"^\s*,?\s*(?:(?:que|quien|who)\s+)?(?:nacio|was\s+born|born)\s+(?:en|in)\s+$"),
    ),
)

_FIRST_PERSON: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    ("works_at", "organization", re.compile(rf"^(?:yo\s+)?trabajo\s+(?:en|para)\s+{_ART}$")),
    ("works_at", "organization", re.compile(rf"^i\s+work\s+(?:at|for)\s+{_ART}$")),
    ("founded", "organization", re.compile(rf"^(?:yo\s+)?funde\s+{_ART}$")),
    ("founded", "organization", re.compile(rf"^i\s+(?:co-?)?founded\s+{_ART}$")),
    ("born_in", "place", re.compile(r"^(?:yo\s+)?naci\s+en\s+$")),
    ("born_in", "place", re.compile(r"^i\s+was\s+born\s+in\s+$")),
)
_SENTENCE_END = re.compile(r"[.?!¿¡…]")
_MAX_GAP = 60


def find_pattern_relations(
    text: str,
    mentions: Sequence[Mention],
    type_of: Callable[[str], str],
    speaker_key: str | None,
) -> list[tuple[str, str, str]]:
    """(source key, target key, relation type) triples found in one chunk."""
    found: list[tuple[str, str, str]] = []
    for left, right in pairwise(mentions):
        gap = text[left.end : right.start]
        if len(gap) > _MAX_GAP:
            continue
        relation = _match_gap(fold(gap), type_of(left.key), type_of(right.key))
        if relation:
            found.append((left.key, right.key, relation))
    if speaker_key:
        for mention in mentions:
            relation = _match_first_person(text, mention, type_of(mention.key))
            if relation:
                found.append((speaker_key, mention.key, relation))
    return found


def _match_gap(gap: str, source_type: str, target_type: str) -> str | None:
    for relation, wanted_source, wanted_target, pattern in _GAP_PATTERNS:
        if (source_type, target_type) == (wanted_source, wanted_target) and pattern.match(gap):
            return relation
    return None


def _match_first_person(text: str, mention: Mention, target_type: str) -> str | None:
    prefix = _SENTENCE_END.split(text[: mention.start])[-1]
    if len(prefix) > _MAX_GAP:
        return None
    clause = " ".join(fold(prefix).split()) + " "
    for relation, wanted_target, pattern in _FIRST_PERSON:
        if target_type == wanted_target and pattern.match(clause):
            return relation
    return None
