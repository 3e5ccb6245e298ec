"""The seams between layers: one small Protocol per seam.

Backends implement these structurally; none of them loads a model or opens a connection in
``__init__``: heavy work happens in ``load()`` or on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Protocol

from castgraph.core.models import (
    AnswerRequest,
    Chunk,
    Diarization,
    Entity,
    Episode,
    EpisodeDocument,
    EpisodeState,
    MediaItem,
    Relation,
    SpeakerGuess,
    Transcript,
)

ProgressCallback = Callable[[float, float], None]
"""Called with (done, total) in the unit of the stage (bytes or seconds of audio)."""


class Source(Protocol):
    """Turns a user-given source (URL, feed, file, folder) into media items and fetches them."""

    def resolve(
        self, source: str, *, limit: int | None = None, since: date | None = None
    ) -> list[MediaItem]:
        """List the items of ``source`` in published order (oldest first)."""
        ...

    def details(self, item: MediaItem) -> MediaItem:
        """The item with full metadata (exact date, duration, human captions) filled in."""
        ...

    def fetch(
        self, item: MediaItem, dest_dir: Path, progress: ProgressCallback | None = None
    ) -> Path:
        """Download (or locate) the item's media and return its local path."""
        ...


class Transcriber(Protocol):
    """Speech recognition with word timestamps."""

    def load(self) -> None:
        """Load model files; called once before the first ``transcribe``."""
        ...

    def transcribe(
        self,
        wav_path: Path,
        *,
        language: str | None = None,
        progress: ProgressCallback | None = None,
        hints: Sequence[str] = (),
    ) -> Transcript:
        """Transcribe a 16 kHz mono WAV file; ``language`` forces the language when given.

        ``hints`` are names likely to be said (from metadata and known voices): a bounded
        prompt that helps the model spell them.
        """
        ...


class Diarizer(Protocol):
    """Who spoke when."""

    def load(self) -> None:
        """Load model files; called once before the first ``diarize``."""
        ...

    def diarize(self, wav_path: Path, *, num_speakers: int | None = None) -> Diarization:
        """Split a 16 kHz mono WAV file into speaker turns with one embedding per speaker."""
        ...


class EpisodeStore(Protocol):
    """What the ingestion pipeline needs from the catalog."""

    def register(self, item: MediaItem) -> Episode:
        """Add a resolved item as a queued episode, or return the existing one."""
        ...

    def set_state(self, episode_id: str, state: EpisodeState, error: str | None = None) -> None:
        """Record an episode's pipeline state (and error, when failed)."""
        ...

    def save_transcript(
        self,
        episode_id: str,
        transcript: Transcript,
        diarization: Diarization | None,
        *,
        build: int | None = None,
    ) -> list[str]:
        """Store segments and speakers atomically, replacing earlier ones; return speaker names.

        With ``build`` (from ``begin_build``) they are staged beside the live build instead."""
        ...

    def save_speaker_guesses(
        self, episode_id: str, guesses: Sequence[SpeakerGuess], *, build: int | None = None
    ) -> list[str]:
        """Store the names identified for the episode's speaker labels (a rename always wins);
        return the speakers' display names. ``build``: name the staged build's speakers."""
        ...

    def voice_names(self) -> list[str]:
        """The names of the voice registry (named voices of earlier episodes)."""
        ...

    def save_analysis(
        self,
        episode_id: str,
        chunks: Sequence[Chunk],
        entities: Sequence[Entity],
        relations: Sequence[Relation],
        *,
        extractor: str = "offline",
        build: int | None = None,
    ) -> EpisodeDocument:
        """Store chunks and extraction atomically; return the document to index (named speakers).

        With ``build`` they are staged, and the document is the staged build's."""
        ...

    def begin_build(self, episode_id: str, *, keep_transcript: bool) -> int:
        """Start (or restart) a build beside the episode's live one; return its number.

        ``keep_transcript``: the build re-derives from the live segments and speakers."""
        ...

    def set_build_state(self, episode_id: str, state: EpisodeState) -> None:
        """Record the stage of the build in progress (the episode's ``state`` is untouched)."""
        ...

    def promote_build(self, episode_id: str, build: int) -> EpisodeDocument:
        """Make the staged build live in one transaction; return the live document."""
        ...

    def finish_build(self, episode_id: str) -> None:
        """Forget the retired build once its index entries are gone."""
        ...

    def fail_build(self, episode_id: str, error: str) -> None:
        """Drop the staged build and record why; the live build stays as it was."""
        ...

    def document(self, episode_id: str) -> EpisodeDocument | None:
        """The stored document of an episode, or None when its analysis was never saved."""
        ...

    def transcript(self, episode_id: str) -> Transcript | None:
        """The stored transcript with speaker labels (not names), or None when there is none."""
        ...


class Extractor(Protocol):
    """Finds entities and relations in an episode's chunks (offline rules or an LLM)."""

    def extract(self, chunks: Sequence[Chunk]) -> tuple[list[Entity], list[Relation]]:
        """Entities (merged by key, with the chunk ids they appear in) and their relations."""
        ...


class Indexer(Protocol):
    """Writes a finished episode to the derived indexes (implemented in ``retrieval/``)."""

    def index(self, document: EpisodeDocument) -> None:
        """Idempotently write the episode's chunks, entities and relations to every index; the
        episode's other chunks go, except those of newer builds (one may be in progress)."""
        ...

    def stage(self, document: EpisodeDocument, live_build: int) -> None:
        """Write a new build's chunks beside the live build's (keyword and vectors); entries of
        any other build (a killed run's) go. The graph is left to ``retire``."""
        ...

    def retire(self, document: EpisodeDocument) -> None:
        """After the swap: replace the episode's graph with ``document`` and remove the
        episode's other chunks (older builds') from the keyword and vector indexes; idempotent."""
        ...

    def delete(self, episode_id: str) -> None:
        """Remove the episode from every index."""
        ...


class Embedder(Protocol):
    """Text to vectors (L2-normalised, so that dot product is cosine similarity)."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text; models load on the first call."""
        ...


class Generator(Protocol):
    """Writes an answer that cites the request's context blocks as ``[n]``, token by token."""

    def stream(self, request: AnswerRequest) -> Iterator[str]:
        """Yield the answer's text in pieces; raise ``GenerationError`` when the model fails."""
        ...
