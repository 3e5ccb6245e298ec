"""The offline extractor: deterministic rules, no model, Spanish and English.

Entities are proper-noun runs (``candidates``) typed by cues (``classify``), named speakers
(person), and the episode's most frequent content n-grams (``topics``, type ``"topic"``).
Mentions merge by key and alias (``merge``). Relations are ``co_occurs`` between entities of
one chunk (never topic with topic), ``mentions`` from a named speaker to what their chunk
names, and a few precise patterns (``works_at``, ``founded``, ``born_in``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from castgraph.core.models import Chunk, Entity, Relation
from castgraph.core.text import entity_key
from castgraph.ingest.extract.candidates import (
    Mention,
    Token,
    find_mentions,
    midsentence_capitals,
    tokenize,
)
from castgraph.ingest.extract.classify import classify
from castgraph.ingest.extract.gazetteer import GIVEN_NAMES, PLACES
from castgraph.ingest.extract.merge import EntityMerger, RelationSet, real_speakers, relate_chunk
from castgraph.ingest.extract.patterns import find_pattern_relations
from castgraph.ingest.extract.topics import find_topics

__all__ = ["OfflineExtractor"]

_MAX_OVERLAP_TOKENS = 400


@dataclass(slots=True)
class _ChunkScan:
    chunk: Chunk
    tokens: list[Token]
    mentions: list[Mention]
    speakers: list[str]
    repeated: int = 0
    """How many leading tokens repeat the previous chunk's end (chunk overlap)."""


class OfflineExtractor:
    """Rule-based entity and relation extraction; see the module docstring."""

    def __init__(
        self,
        *,
        speakers: Sequence[str] = (),
        max_topics: int = 15,
        min_topic_count: int = 2,
        max_relations: int = 200,
    ) -> None:
        """``speakers``: names known to be people (e.g. from the catalog), used for typing.

        ``max_relations`` bounds each relation type per episode (heaviest kept).
        """
        self._known = frozenset(k for k in (entity_key(s) for s in speakers) if k)
        self._max_topics = max_topics
        self._min_topic_count = min_topic_count
        self._max_relations = max_relations

    def extract(self, chunks: Sequence[Chunk]) -> tuple[list[Entity], list[Relation]]:
        """Entities (merged, with provenance) and relations of one episode's chunks."""
        scans = _scan(chunks)
        merger = EntityMerger({c.id: i for i, c in enumerate(chunks)})
        known = self._known | {entity_key(s) for scan in scans for s in scan.speakers}
        _add_mentions(scans, merger, known)
        topic_keys = self._add_topics(scans, merger)
        relations = RelationSet()
        for index, scan in enumerate(scans):
            _relate_chunk(scan, topic_keys.get(index, []), merger, relations)
        return merger.entities(), relations.build(merger, cap_per_type=self._max_relations)

    def _add_topics(
        self, scans: Sequence[_ChunkScan], merger: EntityMerger
    ) -> dict[int, list[str]]:
        covered = [_covered(scan) for scan in scans]
        topics = find_topics(
            [scan.tokens for scan in scans],
            covered,
            repeated=[scan.repeated for scan in scans],
            top_n=self._max_topics,
            min_count=self._min_topic_count,
        )
        by_chunk: dict[int, list[str]] = {}
        for topic in topics:
            if topic.key in merger:
                continue
            for index in topic.chunks:
                merger.add(topic.name, "topic", scans[index].chunk.id)
                by_chunk.setdefault(index, []).append(topic.key)
        return by_chunk


def _scan(chunks: Sequence[Chunk]) -> list[_ChunkScan]:
    tokenised = [tokenize(c.text) for c in chunks]
    midcaps = midsentence_capitals(tokenised)
    scans = [
        _ChunkScan(c, tokens, find_mentions(tokens, c.text, midcaps), real_speakers(c))
        for c, tokens in zip(chunks, tokenised, strict=True)
    ]
    multiword = {w for scan in scans for m in scan.mentions if len(m.words) > 1 for w in m.words}
    corroborated = midcaps | multiword | GIVEN_NAMES | PLACES
    for scan in scans:
        scan.mentions = [m for m in scan.mentions if _kept(m, corroborated)]
    for prev, scan in pairwise(scans):
        scan.repeated = _repeated_tokens(prev, scan)
    return scans


def _repeated_tokens(prev: _ChunkScan, scan: _ChunkScan) -> int:
    """Tokens at the start of ``scan`` that repeat whole sentences ending ``prev``."""
    text = scan.chunk.text
    for tok in prev.tokens[-_MAX_OVERLAP_TOKENS:]:
        tail = prev.chunk.text[tok.start :].rstrip()
        if tok.initial and text.startswith(tail):
            return sum(1 for t in scan.tokens if t.start < len(tail))
    return 0


def _kept(mention: Mention, corroborated: frozenset[str] | set[str]) -> bool:
    """A lone capitalised word opening a sentence needs corroboration to be a name."""
    if len(mention.words) > 1 or not mention.initial or mention.acronym:
        return True
    return mention.key in corroborated


def _add_mentions(scans: Sequence[_ChunkScan], merger: EntityMerger, known: frozenset[str]) -> None:
    by_key: dict[str, list[Mention]] = {}
    for scan in scans:
        for mention in scan.mentions:
            by_key.setdefault(mention.key, []).append(mention)
    types = {key: classify(key, ms, known) for key, ms in by_key.items()}
    for scan in scans:
        for mention in scan.mentions:
            typed = types[mention.key]
            merger.add(mention.surface, typed.type, scan.chunk.id, firm=typed.firm)
        for speaker in scan.speakers:
            merger.add(speaker, "person", scan.chunk.id)


def _covered(scan: _ChunkScan) -> set[int]:
    """Indexes of the chunk's tokens inside a proper-noun mention."""
    spans = [(m.start, m.end) for m in scan.mentions]
    return {i for i, t in enumerate(scan.tokens) if any(s <= t.start < e for s, e in spans)}


def _relate_chunk(
    scan: _ChunkScan, topic_keys: Sequence[str], merger: EntityMerger, relations: RelationSet
) -> None:
    chunk_id = scan.chunk.id
    keys = [merger.canonical(m.key) for m in scan.mentions] + list(topic_keys)
    present = [(k, merger.type_of(k)) for k in dict.fromkeys(keys)]
    speaker_keys = [merger.canonical(entity_key(s)) for s in scan.speakers]
    relate_chunk(relations, chunk_id, present, speaker_keys)
    lone_speaker = speaker_keys[0] if len(speaker_keys) == 1 else None
    triples = find_pattern_relations(scan.chunk.text, scan.mentions, merger.type_of, lone_speaker)
    for source, target, type_ in triples:
        relations.add(source, target, type_, chunk_id)
