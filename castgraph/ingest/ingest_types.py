"""The pipeline's plain types: options, report, observer and the stages it runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Protocol

from castgraph.core.models import (
    Chunk,
    Diarization,
    Episode,
    EpisodeState,
    MediaItem,
    SpeakerGuess,
    Transcript,
)
from castgraph.core.ports import Diarizer, Extractor, Indexer, Source, Transcriber
from castgraph.core.settings import CaptionsMode
from castgraph.ingest.chunking import chunk_transcript
from castgraph.ingest.speakers import identify_speakers

CaptionLoader = Callable[[MediaItem, str | None], Transcript | None]
"""Returns the human-made captions of an item as a transcript (language hint), or None."""

Chunker = Callable[[Episode, Transcript], list[Chunk]]

WorkItem = tuple[Episode, MediaItem, Source]
"""An episode that needs work, the item it was resolved from, and the source that fetches it."""

SpeakerNamer = Callable[[Transcript, Sequence[str]], list[SpeakerGuess]]
"""Guesses the names of a transcript's speaker labels, given names spelled right."""


@dataclass(frozen=True, slots=True)
class Fetched:
    """What the download step hands to speech recognition."""

    item: MediaItem
    """The item with its details (exact date, duration, captions)."""
    wav: Path | None
    """The 16 kHz mono audio, unless the captions were taken alone (``--captions only``)."""
    names: list[str]
    """Names spelled right (metadata, voice registry): hints for Whisper and the speaker namer."""
    captions: Transcript | None = None
    """Human-made captions taken instead of speech recognition."""


@dataclass(frozen=True, slots=True)
class IngestOptions:
    """What the user asked for on the command line or in the API request."""

    limit: int | None = None
    since: date | None = None
    force: bool = False
    language: str | None = None
    captions: CaptionsMode = "never"
    num_speakers: int | None = None
    max_items: int | None = None
    """At most this many episodes get work per run (``CASTGRAPH_MAX_ITEMS_PER_RUN``); items
    after that are neither registered nor processed: the next run takes them."""


@dataclass(slots=True)
class IngestReport:
    """The outcome of one ingest run."""

    resolved: int = 0
    skipped: int = 0
    deferred: int = 0
    """Of ``skipped``: items left for the next run by ``IngestOptions.max_items``."""
    indexed: list[Episode] = field(default_factory=list)
    failed: list[Episode] = field(default_factory=list)
    source_errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.source_errors


class Observer(Protocol):
    """Receives progress; the CLI draws progress bars from it, tests record it."""

    def episode_started(self, episode: Episode, index: int, total: int) -> None: ...

    def stage(self, episode: Episode, state: EpisodeState) -> None: ...

    def progress(self, episode: Episode, done: float, total: float) -> None: ...

    def episode_finished(self, episode: Episode) -> None: ...


class NullObserver:
    """An observer that ignores everything (``--quiet``)."""

    def episode_started(self, episode: Episode, index: int, total: int) -> None:
        pass

    def stage(self, episode: Episode, state: EpisodeState) -> None:
        pass

    def progress(self, episode: Episode, done: float, total: float) -> None:
        pass

    def episode_finished(self, episode: Episode) -> None:
        pass


@dataclass
class Stages:
    """The stage implementations the pipeline runs (real backends or test fakes)."""

    transcriber: Transcriber
    diarizer: Diarizer | None
    extract_wav: Callable[[Path, Path], float]
    is_silent: Callable[[Path], bool]
    assign_speakers: Callable[[Transcript, Diarization | None], Transcript]
    load_captions: CaptionLoader | None = None
    chunk: Chunker = chunk_transcript
    extractor: Extractor | None = None
    extractor_name: str = "offline"
    indexer: Indexer | None = None
    name_speakers: SpeakerNamer | None = identify_speakers
    check_space: Callable[[], None] | None = None
    """Raises StorageError when the disk is too full to write safely (before every episode
    and before its index writes)."""
