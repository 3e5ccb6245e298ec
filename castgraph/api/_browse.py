"""Shared by the People and Topics pages: entity names found in sentences, and moments.

Entities are found by a folded whole-word match of their name or an alias (``entity_key`` on
both sides), the same folding that merges entities in the graph, so "Tucumán" and "tucuman"
are one topic and "Ana" is not found inside "mañana".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from castgraph.api.browse_schemas import Moment
from castgraph.catalog import SqlCatalog
from castgraph.core.errors import NotFoundError
from castgraph.core.models import Chunk, Episode, EpisodeDocument, Sentence
from castgraph.core.text import entity_key
from castgraph.core.timefmt import moment_link

MIN_FORM_CHARS = 2
"""Shorter folded names or aliases (a stray initial) would match nearly every sentence."""

CHUNK_TEXT_CHARS = 300
"""A chunk without sentences (stored before pipeline v2) is cited by its start, this long."""


class EntityMatcher:
    """Which of a set of entities a text names: ``{key: names and aliases}`` in, keys out."""

    def __init__(self, forms: Iterable[tuple[str, Sequence[str]]]) -> None:
        self._forms: dict[str, tuple[str, ...]] = {}
        for key, names in forms:
            folded = {f" {entity_key(n)} " for n in names}
            kept = tuple(f for f in folded if len(f.strip()) >= MIN_FORM_CHARS)
            if kept:
                self._forms[key] = self._forms.get(key, ()) + kept

    def find(self, text: str, keys: Iterable[str] | None = None) -> list[str]:
        """The keys (among ``keys``, default all) whose name or an alias ``text`` contains."""
        padded = f" {entity_key(text)} "
        wanted = self._forms if keys is None else dict.fromkeys(keys)
        return [k for k in wanted if any(form in padded for form in self._forms.get(k, ()))]


def iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def moment(episode: Episode, sentence: Sentence) -> Moment:
    """A sentence as a playable moment (the link goes through ``/media/{id}`` when needed)."""
    return Moment(
        episode_id=episode.id,
        title=episode.title,
        published=iso(episode.published),
        speaker=sentence.speaker,
        start=sentence.start,
        end=sentence.end,
        text=sentence.text,
        link=episode_link(episode, sentence.start),
    )


def episode_link(episode: Episode, seconds: float) -> str:
    return moment_link(episode.url, seconds, episode_id=episode.id)


def chunk_start(chunk: Chunk) -> Sentence:
    """The chunk's first sentence, or (old chunks) its start as a pseudo-sentence."""
    if chunk.sentences:
        return chunk.sentences[0]
    text = chunk.text if len(chunk.text) <= CHUNK_TEXT_CHARS else chunk.text[:CHUNK_TEXT_CHARS]
    return Sentence(text=text, start=chunk.start, end=chunk.end, speaker=chunk.speaker)


def unique_sentences(chunks: Iterable[Chunk]) -> list[tuple[Sentence, set[str]]]:
    """Each sentence once (overlapping chunks repeat some), with the ids of its chunks."""
    seen: dict[tuple[float, float, str], tuple[Sentence, set[str]]] = {}
    for chunk in chunks:
        for sentence in chunk.sentences:
            entry = seen.setdefault(
                (sentence.start, sentence.end, sentence.text), (sentence, set())
            )
            entry[1].add(chunk.id)
    return sorted(seen.values(), key=lambda e: (e[0].start, e[0].end))


class Documents:
    """The catalog's episode documents, each read once per request (None: gone or unanalysed)."""

    def __init__(self, catalog: SqlCatalog) -> None:
        self._catalog = catalog
        self._read: dict[str, tuple[EpisodeDocument, dict[str, Chunk]] | None] = {}

    def get(self, episode_id: str) -> tuple[EpisodeDocument, dict[str, Chunk]] | None:
        if episode_id not in self._read:
            try:
                document = self._catalog.document(episode_id)
            except NotFoundError:  # deleted since the graph or the listing was read
                document = None
            self._read[episode_id] = (
                (document, {c.id: c for c in document.chunks}) if document else None
            )
        return self._read[episode_id]
