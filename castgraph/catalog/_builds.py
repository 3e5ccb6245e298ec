"""Re-processing beside the live build: staging a build in ``episode_builds``, and the swap.

An episode that is already searchable keeps its live segments, speakers, chunks and extraction
while a re-process runs: the new build's rows are staged as column values in one
``BuildRow`` and only :func:`promote` (one transaction) replaces the live rows with them. A
failed or killed run leaves the live build untouched; the next run restarts the same build
number, so its chunk ids (and index entries) are the same ones again.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from castgraph.catalog._analysis import (
    chunk_rows,
    chunks_of,
    entities_of,
    episode_of,
    extraction_row,
    relations_of,
)
from castgraph.catalog._speakers import apply_guesses, display_name
from castgraph.catalog.schema import (
    BuildRow,
    ChunkRow,
    EpisodeRow,
    ExtractionRow,
    SegmentRow,
    SpeakerRow,
    VoiceRow,
)
from castgraph.core.errors import StorageError
from castgraph.core.models import (
    PIPELINE_VERSION,
    Chunk,
    Entity,
    EpisodeDocument,
    EpisodeState,
    Relation,
    Transcript,
)


class BuildMethods:
    """The catalog's build methods, mixed into ``SqlCatalog`` (which provides the primitives)."""

    def _session(self) -> AbstractContextManager[Session]:
        raise NotImplementedError

    @staticmethod
    def _row(s: Session, episode_id: str) -> EpisodeRow:
        raise NotImplementedError

    @staticmethod
    def _document(row: EpisodeRow) -> EpisodeDocument:
        raise NotImplementedError

    def begin_build(self, episode_id: str, *, keep_transcript: bool) -> int:
        """Start (or restart) the build after the live one; return its number."""
        with self._session() as s:
            return begin(self._row(s, episode_id), keep_transcript=keep_transcript)

    def set_build_state(self, episode_id: str, state: EpisodeState) -> None:
        """Record the stage of the build in progress; the episode's own state stays."""
        with self._session() as s:
            row = self._row(s, episode_id)
            if row.pending is not None:
                row.pending.state = state.value

    def promote_build(self, episode_id: str, build: int) -> EpisodeDocument:
        """Swap the staged build in, in one transaction; return the now-live document."""
        with self._session() as s:
            row = self._row(s, episode_id)
            promote(s, row, build)
            return self._document(row)

    def finish_build(self, episode_id: str) -> None:
        """Forget the retired build (its index entries are gone)."""
        with self._session() as s:
            self._row(s, episode_id).retired_build = None

    def fail_build(self, episode_id: str, error: str) -> None:
        """Drop the staged build and record why; the live build stays searchable."""
        with self._session() as s:
            row = self._row(s, episode_id)
            row.pending, row.reprocess_error = None, error


def columns(row: SegmentRow | SpeakerRow | ChunkRow | ExtractionRow) -> dict[str, Any]:
    """A row's column values without its episode id: what a staged list holds."""
    attrs = type(row).__mapper__.column_attrs
    return {a.key: getattr(row, a.key) for a in attrs if a.key != "episode_id"}


def begin(row: EpisodeRow, *, keep_transcript: bool) -> int:
    """Start the build after the live one, dropping what an earlier attempt staged."""
    staged = row.pending or BuildRow()
    staged.build = (row.build or 0) + 1
    staged.state = EpisodeState.QUEUED.value
    staged.language = staged.transcript_source = None
    staged.duration = None
    staged.segments = staged.chunks = staged.extraction = None
    # A re-analysis keeps the transcript: its speakers are copied so that new name guesses
    # land on the staged build, not on the live one.
    staged.speakers = [columns(sp) for sp in row.speakers] if keep_transcript else None
    row.pending = staged
    return staged.build


def pending(row: EpisodeRow, build: int) -> BuildRow:
    """The staged build ``build`` of the episode, or a StorageError when another replaced it."""
    staged = row.pending
    if staged is None or staged.build != build:
        raise StorageError(
            f"episode {row.id} has no build {build} in progress (another run restarted or "
            "finished it): run the ingest again"
        )
    return staged


def stage_transcript(
    row: EpisodeRow,
    build: int,
    transcript: Transcript,
    segments: Sequence[SegmentRow],
    speakers: Sequence[SpeakerRow],
) -> list[str]:
    staged = pending(row, build)
    staged.language, staged.transcript_source = transcript.language, transcript.source
    staged.duration = transcript.duration or row.duration
    staged.segments = [columns(seg) for seg in segments]
    staged.speakers = [columns(sp) for sp in speakers]
    staged.chunks = staged.extraction = None
    return [display_name(sp) for sp in speakers]


def stage_guesses(s: Session, row: EpisodeRow, build: int, guesses: Sequence[Any]) -> list[str]:
    """Name the staged speakers; confident guesses join the (global) voice registry now."""
    staged = pending(row, build)
    speakers = [SpeakerRow(**d) for d in staged.speakers or []]
    apply_guesses(s, row.id, speakers, guesses)
    staged.speakers = [columns(sp) for sp in speakers]
    return [display_name(sp) for sp in speakers]


def stage_analysis(
    row: EpisodeRow,
    build: int,
    chunks: Sequence[Chunk],
    entities: Sequence[Entity],
    relations: Sequence[Relation],
    extractor: str,
) -> None:
    staged = pending(row, build)
    staged.chunks = [columns(c) for c in chunk_rows(chunks)]
    staged.extraction = columns(extraction_row(extractor, entities, relations))


def staged_document(row: EpisodeRow, build: int) -> EpisodeDocument:
    """What the indexes should hold for the staged build (its speakers named)."""
    staged = pending(row, build)
    speakers = (
        [SpeakerRow(**d) for d in staged.speakers]
        if staged.speakers is not None
        else list(row.speakers)
    )
    names = {sp.label: display_name(sp) for sp in speakers}
    extraction = ExtractionRow(**staged.extraction) if staged.extraction else None
    return EpisodeDocument(
        episode=episode_of(row),
        chunks=chunks_of(row, names, [ChunkRow(**d) for d in staged.chunks or []]),
        entities=entities_of(extraction),
        relations=relations_of(extraction),
    )


def promote(s: Session, row: EpisodeRow, build: int) -> None:
    """Replace the live rows with the staged build's and make it live (caller's transaction)."""
    staged = pending(row, build)
    if staged.chunks is None or staged.extraction is None:
        raise StorageError(f"build {build} of episode {row.id} is not analysed: nothing to swap in")
    renamed = {sp.label: sp.name for sp in row.speakers if sp.name}
    if staged.segments is not None:
        row.segments.clear()
        row.language, row.transcript_source = staged.language, staged.transcript_source
        row.duration = staged.duration or row.duration
    if staged.speakers is not None:
        row.speakers.clear()
    row.chunks.clear()
    row.extraction = None
    s.flush()
    row.segments.extend(SegmentRow(**d) for d in staged.segments or [])
    row.speakers.extend(_speakers(s, staged, renamed))
    row.chunks.extend(ChunkRow(**d) for d in staged.chunks)
    row.extraction = ExtractionRow(**staged.extraction)
    row.retired_build, row.build = row.build or 0, build
    row.state, row.error, row.reprocess_error = EpisodeState.INDEXED.value, None, None
    row.pipeline_version = PIPELINE_VERSION
    row.pending = None
    s.flush()


def _speakers(s: Session, staged: BuildRow, renamed: dict[str, str]) -> list[SpeakerRow]:
    rows = [SpeakerRow(**d) for d in staged.speakers or []]
    voices = {v for v in (sp.voice_id for sp in rows) if v is not None}
    alive = set(s.scalars(select(VoiceRow.id).where(VoiceRow.id.in_(voices)))) if voices else set()
    for sp in rows:
        if sp.voice_id not in alive:
            sp.voice_id = None  # the voice was deleted while the build ran
        if staged.segments is None and sp.label in renamed:
            # Same transcript, same labels: a rename made during the re-analysis still holds.
            sp.name = renamed[sp.label]
    return rows
