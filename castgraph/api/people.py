"""The People page: named speakers across the indexed episodes, and what each said, when.

A person is a speaker's display name (a rename, a renamed voice, or a confident guess), merged
across episodes by ``entity_key`` so "Tomás Iriarte" and "tomas iriarte" are one person.
Unnamed speakers (their diarization label, e.g. SPEAKER_00) are left out: a label is local to
its episode, so SPEAKER_00 of two episodes is not one person; the episode page lists them, and
naming one (``PUT /api/episodes/{id}/speakers/{label}``) makes it a person here.

A person's moments are the sentences they said that name an entity of that episode's
extraction (folded whole-word match of a name or alias, within the chunks the entity was
found in). Everything is read from the catalog, whose sentences carry exact times and speakers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date

from castgraph.api._browse import EntityMatcher, iso, moment, unique_sentences
from castgraph.api.browse_schemas import (
    PersonDetail,
    PersonEpisode,
    PersonOut,
    PersonTopic,
    TaggedMoment,
    TopicRef,
)
from castgraph.api.media import public_url
from castgraph.catalog import SqlCatalog
from castgraph.core.errors import NotFoundError
from castgraph.core.models import Entity, Episode, EpisodeDocument, EpisodeState, Sentence
from castgraph.core.text import entity_key

PER_EPISODE = 20
"""Moments shown per episode (``total_moments`` says how many there are)."""
DEFAULT_LIMIT = 200
"""Moments shown in all (later episodes still appear, with their count)."""
MAX_LIMIT = 1000
FALLBACK_SENTENCES = 3
"""First sentences shown for an episode where the person names no entity."""
MAX_TOPICS = 100


@dataclass(frozen=True, slots=True)
class Said:
    """A sentence with the keys of the entities it names."""

    sentence: Sentence
    topics: tuple[str, ...]


@dataclass(slots=True)
class Speech:
    """An indexed episode's named speakers and their sentences, tagged with entities."""

    episode: Episode
    names: set[str]
    said: list[Said]
    entities: dict[str, Entity]


@dataclass(slots=True)
class _Person:
    spellings: Counter[str] = field(default_factory=Counter)
    episodes: set[str] = field(default_factory=set)
    moments: int = 0
    published: list[date] = field(default_factory=list)


def people(catalog: SqlCatalog) -> list[PersonOut]:
    """Every named speaker of the indexed episodes; most episodes, then most moments, first."""
    found: dict[str, _Person] = {}
    for speech in indexed_speech(catalog):
        for name in speech.names:
            person = found.setdefault(entity_key(name), _Person())
            person.spellings[name] += 1
            person.moments += sum(1 for s in speech.said if s.topics and s.sentence.speaker == name)
            if speech.episode.id not in person.episodes and speech.episode.published:
                person.published.append(speech.episode.published)
            person.episodes.add(speech.episode.id)
    listed = [
        PersonOut(
            name=p.spellings.most_common(1)[0][0],
            episodes=len(p.episodes),
            moments=p.moments,
            first_published=iso(min(p.published, default=None)),
            last_published=iso(max(p.published, default=None)),
        )
        for key, p in found.items()
        if key
    ]
    return sorted(listed, key=lambda p: (-p.episodes, -p.moments, entity_key(p.name)))


def person(
    catalog: SqlCatalog,
    name: str,
    *,
    topic: str | None = None,
    limit: int = DEFAULT_LIMIT,
    per_episode: int = PER_EPISODE,
) -> PersonDetail:
    """What ``name`` said in each indexed episode, oldest publication first; ``topic`` (an entity
    key or name) keeps only the moments naming it. Raises NotFoundError for an unknown person."""
    key, topic_key = entity_key(name), entity_key(topic) if topic else None
    spellings: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    known: dict[str, Entity] = {}
    episodes: list[PersonEpisode] = []
    remaining, truncated = limit, False
    for speech in indexed_speech(catalog):
        mine = {n for n in speech.names if entity_key(n) == key}
        if not key or not mine:
            continue
        spellings.update(mine)
        said = [s for s in speech.said if s.sentence.speaker in mine]
        counts.update(k for s in said for k in s.topics)
        known = speech.entities | known
        picked = _pick(said, topic_key)
        if not picked:
            continue
        shown = picked[: max(0, min(per_episode, remaining))]
        remaining -= len(shown)
        truncated = truncated or len(shown) < len(picked)
        episodes.append(_episode(speech, shown, len(picked)))
    if not spellings:
        raise NotFoundError(f"no named speaker {name!r} in the indexed episodes (see /api/people)")
    topics = [
        PersonTopic(key=k, name=known[k].name, type=known[k].type, count=n)
        for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return PersonDetail(
        name=spellings.most_common(1)[0][0],
        topics=topics[:MAX_TOPICS],
        episodes=episodes,
        truncated=truncated or len(topics) > MAX_TOPICS,
    )


def _pick(said: Sequence[Said], topic_key: str | None) -> list[Said]:
    """The sentences naming an entity (``topic_key``: that one); with no filter and none found,
    the first few sentences, so every episode the person speaks in is on the timeline."""
    tagged = [s for s in said if s.topics and (topic_key is None or topic_key in s.topics)]
    if tagged or topic_key is not None:
        return tagged
    return list(said[:FALLBACK_SENTENCES])


def _episode(speech: Speech, shown: Sequence[Said], total: int) -> PersonEpisode:
    episode = speech.episode
    return PersonEpisode(
        episode_id=episode.id,
        title=episode.title,
        published=iso(episode.published),
        url=public_url(episode.url, episode.id),
        total_moments=total,
        moments=[
            TaggedMoment(
                **moment(episode, s.sentence).model_dump(),
                topics=[TopicRef(key=k, name=speech.entities[k].name) for k in s.topics],
            )
            for s in shown
        ],
    )


def indexed_speech(catalog: SqlCatalog) -> Iterator[Speech]:
    """The indexed episodes with a named speaker, oldest publication first (the catalog's
    order); an episode deleted meanwhile is skipped."""
    for episode in catalog.list_episodes():
        if episode.state is not EpisodeState.INDEXED:
            continue
        try:
            names = {i.name for i in catalog.speakers(episode.id) if i.name != i.label}
            document = catalog.document(episode.id) if names else None
        except NotFoundError:
            continue
        if document is not None:
            yield Speech(episode, names, _tagged(document, names), _entities(document))


def _entities(document: EpisodeDocument) -> dict[str, Entity]:
    return {e.key: e for e in document.entities if e.key}


def _tagged(document: EpisodeDocument, names: set[str]) -> list[Said]:
    """The named speakers' sentences, each with the entities it names. Only entities found in
    the sentence's chunks are tried (all of them for an entity without chunk ids)."""
    entities = _entities(document)
    matcher = EntityMatcher((k, (e.name, *e.aliases)) for k, e in entities.items())
    everywhere = [k for k, e in entities.items() if not e.chunk_ids]
    by_chunk: dict[str, list[str]] = {}
    for k, e in entities.items():
        for chunk_id in e.chunk_ids:
            by_chunk.setdefault(chunk_id, []).append(k)
    said = []
    for sentence, chunk_ids in unique_sentences(document.chunks):
        if sentence.speaker not in names:
            continue
        candidates = everywhere + [k for c in sorted(chunk_ids) for k in by_chunk.get(c, [])]
        said.append(Said(sentence, tuple(matcher.find(sentence.text, candidates))))
    return said
