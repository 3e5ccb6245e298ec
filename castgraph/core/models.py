"""Plain data shared by every layer. Times are seconds from the start of the episode's audio."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

PIPELINE_VERSION = "2"
"""Bumped when a change to ingestion makes earlier episodes worth reprocessing."""


class EpisodeState(enum.StrEnum):
    """Where an episode is in the pipeline (design §5)."""

    QUEUED = "queued"
    DOWNLOADING = "downloading"
    TRANSCRIBING = "transcribing"
    DIARIZING = "diarizing"
    INDEXING = "indexing"
    INDEXED = "indexed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class MediaItem:
    """One resolved, not yet processed, piece of media from a source."""

    source_id: str
    url: str
    title: str
    duration: float | None = None
    published: date | None = None
    origin: str = ""
    local_path: str | None = None
    captions: dict[str, str] = field(default_factory=dict)
    description: str = ""
    """The item's description (and its channel's name), where speakers' names are looked for."""


@dataclass(frozen=True, slots=True)
class Word:
    """A recognised word with its timing, confidence and (after diarization) speaker."""

    text: str
    start: float
    end: float
    probability: float = 1.0
    speaker: str | None = None


@dataclass(frozen=True, slots=True)
class Segment:
    """A span of speech by one speaker, made of words."""

    start: float
    end: float
    text: str
    speaker: str | None = None
    words: tuple[Word, ...] = ()


@dataclass(frozen=True, slots=True)
class Transcript:
    """The output of speech recognition (or human captions) for one audio file."""

    language: str
    segments: tuple[Segment, ...]
    duration: float
    language_probability: float = 1.0
    source: str = "asr"

    @property
    def words(self) -> list[Word]:
        return [w for s in self.segments for w in s.words]


@dataclass(frozen=True, slots=True)
class SpeakerTurn:
    """A time span in which one speaker label is talking."""

    start: float
    end: float
    speaker: str


@dataclass(frozen=True, slots=True)
class Diarization:
    """Who spoke when, plus one voice embedding per speaker label (for names across episodes)."""

    turns: tuple[SpeakerTurn, ...]
    embeddings: dict[str, tuple[float, ...]] = field(default_factory=dict)

    @property
    def speakers(self) -> list[str]:
        return sorted({t.speaker for t in self.turns})


NAME_CONFIDENCE_THRESHOLD = 0.5
"""A speaker-name guess at least this confident names the speaker; below, it is a suggestion."""


@dataclass(frozen=True, slots=True)
class SpeakerGuess:
    """A speaker label's name identified from the transcript (or a known voice), with evidence.

    ``start``/``end``/``text`` are the evidence moment: the sentence that names the speaker
    (None when the guess comes from the voice registry rather than this episode's audio).
    """

    label: str
    name: str
    confidence: float
    start: float | None = None
    end: float | None = None
    text: str = ""


@dataclass(frozen=True, slots=True)
class SpeakerInfo:
    """A speaker of an episode as shown to people: its display name and where it comes from.

    ``name`` is the confirmed name (a rename or a renamed voice), else a guess at least
    ``NAME_CONFIDENCE_THRESHOLD`` confident, else the label; ``guess`` is the best guess, if any.
    """

    label: str
    name: str
    confirmed: bool
    guess: SpeakerGuess | None = None


@dataclass(slots=True)
class Episode:
    """An episode as the catalog knows it."""

    id: str
    source_id: str
    title: str
    url: str
    state: EpisodeState = EpisodeState.QUEUED
    duration: float | None = None
    published: date | None = None
    language: str | None = None
    speakers: list[str] = field(default_factory=list)
    error: str | None = None
    pipeline_version: str = PIPELINE_VERSION
    build: int = 0
    """The live build: what search, answers, the transcript page and the graph show."""
    reprocessing: str | None = None
    """The stage of a build in progress beside the live one (None: none is)."""
    reprocess_error: str | None = None
    """Why the last re-process failed (the live build stayed as it was)."""
    retired_build: int | None = None
    """A build replaced by the live one whose index entries are not yet removed."""


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence (or a piece of a long one) of a chunk: who said it and when, from word times.

    A cited moment resolves to sentences, so an answer links the second its claim was said.
    """

    text: str
    start: float
    end: float
    speaker: str | None = None


@dataclass(frozen=True, slots=True)
class Chunk:
    """A retrievable, speaker-aware, timestamped span of an episode."""

    id: str
    episode_id: str
    ordinal: int
    start: float
    end: float
    text: str
    speakers: tuple[str, ...]
    language: str
    title: str
    url: str
    published: date | None = None
    sentences: tuple[Sentence, ...] = ()
    """The chunk's sentences in time order (empty for chunks stored before pipeline v2)."""

    @property
    def speaker(self) -> str | None:
        """The first speaker of the chunk (the one a citation names)."""
        return self.speakers[0] if self.speakers else None


def chunk_id(episode_id: str, ordinal: int, build: int = 0) -> str:
    """Stable chunk id: episode id + ordinal + pipeline version (design §2), + build when not 0.

    Build 0 keeps the id chunks had before builds existed, so older indexes stay findable.
    """
    suffix = f"-b{build}" if build else ""
    return f"{episode_id}-{ordinal:05d}-v{PIPELINE_VERSION}{suffix}"


_BUILD_SUFFIX = re.compile(r"-b(\d+)$")


def chunk_build(chunk_id: str) -> int:
    """The build a chunk id belongs to (0 for ids without a build suffix)."""
    found = _BUILD_SUFFIX.search(chunk_id)
    return int(found.group(1)) if found else 0


@dataclass(frozen=True, slots=True)
class Entity:
    """A person, organisation, place or topic, with the chunks it was found in.

    ``name`` is the display form; ``key`` (see ``core.text.entity_key``) is what merges mentions
    across chunks and episodes regardless of case, accents and punctuation.
    """

    name: str
    type: str
    aliases: tuple[str, ...] = ()
    chunk_ids: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        from castgraph.core.text import entity_key

        return entity_key(self.name)


@dataclass(frozen=True, slots=True)
class Relation:
    """A typed link between two entities (by display name), with the chunks that evidence it.

    ``weight`` is the evidence strength (for co-occurrence, the number of chunks sharing both).
    """

    source: str
    target: str
    type: str
    chunk_ids: tuple[str, ...] = ()
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class EpisodeDocument:
    """Everything the derived indexes hold about one episode, as handed to an ``Indexer``."""

    episode: Episode
    chunks: tuple[Chunk, ...]
    entities: tuple[Entity, ...] = ()
    relations: tuple[Relation, ...] = ()


CitationKind = Literal["quote", "paraphrase", "block"]
"""How a cited moment was resolved: a verbatim ``quote`` of its sentences, a ``paraphrase``
aligned to them, or the whole ``block`` when no sentence could be found to support the claim."""


@dataclass(frozen=True, slots=True)
class Span:
    """The enclosing context block of a cited moment, so a reader can widen the view."""

    start: float
    end: float
    text: str


@dataclass(frozen=True, slots=True)
class Citation:
    """A cited moment: an episode, a speaker and a time, with a link that opens it.

    As a context block (what a generator reads) it spans merged chunks and carries their
    ``sentences``; as a cited source it is the sentence(s) a claim rests on, with ``kind`` saying
    how it was resolved and ``context`` the block it came from.
    """

    episode_id: str
    title: str
    url: str
    link: str
    speaker: str | None
    start: float
    end: float
    text: str
    sentences: tuple[Sentence, ...] = ()
    kind: CitationKind = "block"
    context: Span | None = None
    published: date | None = None


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of a conversation: ``role`` is ``system``, ``user`` or ``assistant``."""

    role: str
    content: str


@dataclass(frozen=True, slots=True)
class ContextBlock:
    """A retrieved moment numbered for citation: ``[number]`` in an answer points to it."""

    number: int
    citation: Citation


@dataclass(frozen=True, slots=True)
class AnswerRequest:
    """What a generator answers from: the question, its language, the numbered context blocks,
    and (for LLMs) the rendered chat messages that carry them."""

    question: str
    language: str
    blocks: tuple[ContextBlock, ...]
    messages: tuple[ChatMessage, ...] = ()
    degraded: tuple[tuple[str, str], ...] = ()
    """(component, message) of each store the search had to do without."""
