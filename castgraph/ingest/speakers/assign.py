"""From evidence to names: spellings unified, confidence combined, one name per label.

Each heard name takes the spelling of the known name it sounds like (metadata, the voice
registry), or of the full name a first name abbreviates ("Valeria" → "Valeria Quiroga"). The
confidences of the cues that give one name to one label combine as independent evidence
(noisy-or); a name the metadata confirms is surer still. Labels then take names greedily by
weight, a name to one label and a label to one name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from castgraph.core.models import SpeakerGuess
from castgraph.core.text import entity_key
from castgraph.ingest.speakers.cues import Evidence
from castgraph.ingest.speakers.names import NameBook

CONFIRMED_KEEP = 0.4
"""A name the metadata confirms keeps this share of its doubt (0.6 → 0.84)."""
PARTIAL_KEEP = 0.7
"""A first name that matches one known full name: a weaker confirmation (0.6 → 0.72)."""


@dataclass(slots=True)
class _Candidate:
    label: str
    name: str
    doubt: float  # the product of (1 - confidence) of its evidence
    best: Evidence
    keep: float = 1.0  # the share of doubt the metadata leaves

    @property
    def confidence(self) -> float:
        return 1.0 - self.doubt * self.keep


def spell(name: str, book: NameBook, heard: Sequence[str]) -> tuple[str, float]:
    """The spelling of ``name`` to keep, and the share of doubt its confirmation leaves."""
    match = book.match(name)
    if match is not None:
        return match.name, CONFIRMED_KEEP if match.full else PARTIAL_KEEP
    fuller = NameBook(h for h in heard if len(h.split()) > len(name.split())).match(name)
    if fuller is not None and not fuller.full:
        return fuller.name, 1.0
    return name, 1.0


def assign(evidence: Sequence[Evidence], book: NameBook) -> list[SpeakerGuess]:
    """One guess per label at most, each name given once, strongest first."""
    heard = [e.name for e in evidence]
    candidates: dict[tuple[str, str], _Candidate] = {}
    for item in evidence:
        name, keep = spell(item.name, book, heard)
        key = (item.label, entity_key(name))
        found = candidates.get(key)
        if found is None:
            candidates[key] = _Candidate(item.label, name, 1.0 - item.confidence, item, keep)
            continue
        found.doubt *= 1.0 - item.confidence
        found.keep = min(found.keep, keep)
        if item.confidence > found.best.confidence:
            found.best = item
    guesses: list[SpeakerGuess] = []
    labels: set[str] = set()
    names: set[str] = set()
    ranked = sorted(candidates.items(), key=lambda kv: (-kv[1].confidence, kv[0]))
    for (label, name_key), cand in ranked:
        if label in labels or name_key in names:
            continue
        labels.add(label)
        names.add(name_key)
        line = cand.best.line
        guesses.append(
            SpeakerGuess(
                label=label,
                name=cand.name,
                confidence=round(cand.confidence, 3),
                start=round(line.start, 3),
                end=round(line.end, 3),
                text=line.text,
            )
        )
    return sorted(guesses, key=lambda g: g.label)
