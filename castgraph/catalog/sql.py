"""SQLAlchemy implementation of the catalog (the ``EpisodeStore`` port and the read side)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from castgraph.catalog import _builds, _listing
from castgraph.catalog._analysis import (
    chunk_rows,
    chunks_of,
    entities_of,
    episode_of,
    extraction_row,
    relations_of,
)
from castgraph.catalog._engine import make_engine, parse_url
from castgraph.catalog._jobs import JobStore
from castgraph.catalog._migrate import ensure_head
from castgraph.catalog._queue import JobItemStore, LeaseStore
from castgraph.catalog._speakers import (
    apply_guesses,
    display_name,
    names_of,
    new_speaker,
    speaker_info,
)
from castgraph.catalog._subscriptions import SubscriptionStore
from castgraph.catalog.schema import EpisodeRow, SegmentRow, SpeakerRow, VoiceRow
from castgraph.core.errors import InputError, NotFoundError, StorageError
from castgraph.core.models import (
    PIPELINE_VERSION,
    Chunk,
    Diarization,
    Entity,
    Episode,
    EpisodeDocument,
    EpisodeState,
    MediaItem,
    Relation,
    Segment,
    Sentence,
    SpeakerGuess,
    SpeakerInfo,
    Transcript,
    Word,
)

log = logging.getLogger(__name__)


def episode_id_for(source_id: str) -> str:
    """A short id that is stable for a source id (same item → same episode on every run)."""
    return hashlib.sha256(source_id.encode()).hexdigest()[:12]


class SqlCatalog(_builds.BuildMethods):
    """The catalog. ``open()`` migrates the schema; every write is one transaction."""

    def __init__(self, url: str, *, voice_match_threshold: float = 0.8) -> None:
        self._url = url
        self._threshold = voice_match_threshold
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None

    def open(self) -> SqlCatalog:
        """Connect and bring the schema to the newest revision (see ``_migrate``); returns
        self."""
        if self._engine is not None:
            return self
        url = parse_url(self._url)
        engine = make_engine(url)
        try:
            ensure_head(engine, url)
        except BaseException:
            engine.dispose()
            raise
        self._engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        return self

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        self._engine = self._sessions = None

    def __enter__(self) -> SqlCatalog:
        return self.open()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def subscriptions(self) -> SubscriptionStore:
        """Subscriptions and their runs: the schedule's state."""
        return SubscriptionStore(self._session)

    @property
    def jobs(self) -> JobStore:
        """The job queue."""
        return JobStore(self._session)

    @property
    def leases(self) -> LeaseStore:
        """Episode leases of the distributed queue."""
        return LeaseStore(self._session)

    @property
    def job_items(self) -> JobItemStore:
        """The episodes of each job the distributed queue runs."""
        return JobItemStore(self._session)

    @contextmanager
    def _session(self) -> Iterator[Session]:
        if self._sessions is None:
            self.open()
        assert self._sessions is not None
        session = self._sessions()
        try:
            yield session
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            raise StorageError(f"catalog error: {exc}") from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    # --- episodes -------------------------------------------------------------------------

    def register(self, item: MediaItem) -> Episode:
        """Add a resolved item as a queued episode, or return the existing one (refreshed)."""
        try:
            return self._register(item)
        except StorageError as exc:
            if not isinstance(exc.__cause__, IntegrityError):
                raise
            # Another process registered the same item between our read and our insert
            # (two workers planning one feed): it exists now, so refresh it instead.
            return self._register(item)

    def _register(self, item: MediaItem) -> Episode:
        with self._session() as s:
            row = s.scalars(
                select(EpisodeRow).where(EpisodeRow.source_id == item.source_id)
            ).first()
            if row is None:
                row = EpisodeRow(
                    id=episode_id_for(item.source_id),
                    source_id=item.source_id,
                    state=EpisodeState.QUEUED.value,
                    pipeline_version=PIPELINE_VERSION,
                )
                s.add(row)
            row.title, row.url, row.origin = item.title, item.url, item.origin
            row.local_path, row.captions = item.local_path, dict(item.captions)
            row.duration = item.duration or row.duration
            row.published = item.published or row.published
            s.flush()
            return episode_of(row)

    def get(self, episode_id: str) -> Episode:
        """An episode by id or unique id prefix."""
        with self._session() as s:
            return episode_of(self._row(s, episode_id))

    def local_path(self, episode_id: str) -> str | None:
        """The file a local-file episode was ingested from (None for downloaded media)."""
        with self._session() as s:
            return self._row(s, episode_id).local_path

    def list_episodes(self, limit: int | None = None, offset: int = 0) -> list[Episode]:
        """Episodes oldest published first (undated last): all, or ``limit`` from ``offset``.
        A constant number of queries, however many episodes there are."""
        with self._session() as s:
            return [episode_of(r) for r in s.scalars(_listing.episode_page(limit, offset))]

    def count_episodes(self) -> dict[str, int]:
        """``{state: number of episodes}`` (states without episodes absent), in one query."""
        with self._session() as s:
            return _listing.state_counts(s)

    def episode_ids(self, state: EpisodeState | None = EpisodeState.INDEXED) -> set[str]:
        """Ids of the episodes in ``state`` (all episodes when None)."""
        with self._session() as s:
            query = select(EpisodeRow.id)
            if state is not None:
                query = query.where(EpisodeRow.state == state.value)
            return set(s.scalars(query).all())

    def index_tokens(self) -> dict[str, str]:
        """A token per indexed episode that changes whenever it is indexed again: what a
        process compares to learn which of its own index files are behind the catalog."""
        with self._session() as s:
            rows = s.execute(
                select(EpisodeRow.id, EpisodeRow.pipeline_version, EpisodeRow.updated_at).where(
                    EpisodeRow.state == EpisodeState.INDEXED.value
                )
            ).all()
            return {i: f"{version}|{updated.isoformat()}" for i, version, updated in rows}

    def live_builds(self) -> dict[str, int]:
        """``{episode id: live build}`` of the indexed episodes (what search may return)."""
        with self._session() as s:
            query = select(EpisodeRow.id, EpisodeRow.build).where(
                EpisodeRow.state == EpisodeState.INDEXED.value
            )
            return {str(i): int(b or 0) for i, b in s.execute(query).all()}

    def set_state(self, episode_id: str, state: EpisodeState, error: str | None = None) -> None:
        with self._session() as s:
            row = self._row(s, episode_id)
            row.state = state.value
            row.error = error
            if state is EpisodeState.INDEXED:
                row.pipeline_version = PIPELINE_VERSION

    def delete(self, episode_id: str) -> Episode:
        """Remove an episode, its segments and speakers from the catalog."""
        with self._session() as s:
            row = self._row(s, episode_id)
            episode = episode_of(row)
            s.execute(delete(VoiceRow).where(VoiceRow.episode_id == row.id))
            s.delete(row)
            return episode

    # --- transcripts ----------------------------------------------------------------------

    def save_transcript(
        self,
        episode_id: str,
        transcript: Transcript,
        diarization: Diarization | None,
        *,
        build: int | None = None,
    ) -> list[str]:
        """Replace the episode's segments and speakers in one transaction; names known voices.
        With ``build``, stage them for that build instead (the live ones stay)."""
        with self._session() as s:
            row = self._row(s, episode_id)
            if build is not None:
                segments = [_segment_row(i, seg) for i, seg in enumerate(transcript.segments)]
                speakers = self._new_speakers(s, transcript, diarization)
                return _builds.stage_transcript(row, build, transcript, segments, speakers)
            row.segments.clear()
            row.speakers.clear()
            row.chunks.clear()
            row.extraction = None
            s.flush()
            row.language = transcript.language
            row.transcript_source = transcript.source
            row.duration = transcript.duration or row.duration
            for ordinal, seg in enumerate(transcript.segments):
                row.segments.append(_segment_row(ordinal, seg))
            row.speakers.extend(self._new_speakers(s, transcript, diarization))
            s.flush()
            return [display_name(sp) for sp in row.speakers]

    def _new_speakers(
        self, s: Session, transcript: Transcript, diarization: Diarization | None
    ) -> list[SpeakerRow]:
        labels = sorted({seg.speaker for seg in transcript.segments if seg.speaker})
        embeddings = diarization.embeddings if diarization else {}
        voices = s.scalars(select(VoiceRow)).all()
        return [new_speaker(lb, embeddings.get(lb), voices, self._threshold) for lb in labels]

    def save_speaker_guesses(
        self, episode_id: str, guesses: Sequence[SpeakerGuess], *, build: int | None = None
    ) -> list[str]:
        """Store names identified for the episode's speakers (``build``: the staged ones);
        confirmed names are kept as they are, and confident guesses join the voice registry
        as guessed voices."""
        with self._session() as s:
            row = self._row(s, episode_id)
            if build is not None:
                return _builds.stage_guesses(s, row, build, guesses)
            apply_guesses(s, row.id, row.speakers, guesses)
            s.flush()
            return [display_name(sp) for sp in row.speakers]

    def speakers(self, episode_id: str) -> list[SpeakerInfo]:
        """The episode's speakers: label, display name, confirmed or not, and the best guess."""
        with self._session() as s:
            return [speaker_info(sp) for sp in self._row(s, episode_id).speakers]

    def voice_names(self) -> list[str]:
        """Distinct names of the voice registry, names people gave before guessed ones."""
        with self._session() as s:
            voices = s.scalars(select(VoiceRow).order_by(VoiceRow.id.desc())).all()
            ranked = sorted(voices, key=lambda v: bool(v.guessed))
            return list(dict.fromkeys(v.name for v in ranked))

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
        """Replace the episode's chunks and extraction in one transaction; return the document.
        With ``build``, stage them and return the staged build's document."""
        with self._session() as s:
            row = self._row(s, episode_id)
            if build is not None:
                _builds.stage_analysis(row, build, chunks, entities, relations, extractor)
                s.flush()
                return _builds.staged_document(row, build)
            row.chunks.clear()
            row.extraction = None
            s.flush()
            row.chunks.extend(chunk_rows(chunks))
            row.extraction = extraction_row(extractor, entities, relations)
            s.flush()
            return self._document(row)

    def document(self, episode_id: str) -> EpisodeDocument | None:
        """What the indexes should hold for the episode, or None before its analysis is saved."""
        with self._session() as s:
            row = self._row(s, episode_id)
            return self._document(row) if row.extraction is not None else None

    @staticmethod
    def _document(row: EpisodeRow) -> EpisodeDocument:
        names = names_of(row)
        return EpisodeDocument(
            episode=episode_of(row),
            chunks=chunks_of(row, names),
            entities=entities_of(row.extraction),
            relations=relations_of(row.extraction),
        )

    def segments(self, episode_id: str) -> list[Segment]:
        """The episode's transcript as speaker segments, with display names as speakers."""
        with self._session() as s:
            row = self._row(s, episode_id)
            names = names_of(row)
            return [_segment(seg, names) for seg in row.segments]

    def sentences(self, episode_id: str) -> list[Sentence]:
        """The episode's sentences (from its chunks, each once), with display names as speakers."""
        document = self.document(episode_id)
        if document is None:
            return []
        unique = {(x.start, x.end, x.text): x for c in document.chunks for x in c.sentences}
        return sorted(unique.values(), key=lambda x: (x.start, x.end))

    def transcript(self, episode_id: str) -> Transcript | None:
        """The stored transcript with speaker labels, to re-chunk without speech recognition."""
        with self._session() as s:
            row = self._row(s, episode_id)
            if not row.segments:
                return None
            segments = tuple(_segment(seg, {}) for seg in row.segments)
            return Transcript(
                language=row.language or "und",
                segments=segments,
                duration=row.duration or max(seg.end for seg in segments),
                source=row.transcript_source or "asr",
            )

    def rename_speaker(self, episode_id: str, label: str, name: str) -> Episode:
        """Name a speaker of an episode; the voice keeps that name in later episodes."""
        name = name.strip()
        if not name:
            raise InputError('the new speaker name is empty: give a name, e.g. "Ana García"')
        with self._session() as s:
            row = self._row(s, episode_id)
            speaker = next(
                (sp for sp in row.speakers if label in (sp.label, sp.name, display_name(sp))), None
            )
            if speaker is None:
                known = (
                    ", ".join(
                        f"{sp.label} ({name})" if name != sp.label else sp.label
                        for sp, name in ((sp, display_name(sp)) for sp in row.speakers)
                    )
                    or "none"
                )
                raise NotFoundError(
                    f"episode {row.id} has no speaker {label!r}; its speakers are: {known}"
                )
            speaker.name, speaker.voice_id = name, None
            s.flush()
            s.execute(
                delete(VoiceRow).where(
                    VoiceRow.episode_id == row.id, VoiceRow.label == speaker.label
                )
            )
            if speaker.embedding:
                voice = VoiceRow(
                    name=name, embedding=speaker.embedding, episode_id=row.id, label=speaker.label
                )
                s.add(voice)
                s.flush()
                speaker.voice_id = voice.id
            s.flush()
            return episode_of(row)

    # --- helpers --------------------------------------------------------------------------

    @staticmethod
    def _row(s: Session, episode_id: str) -> EpisodeRow:
        # Prefixes match regardless of case, as SQLite's LIKE does and PostgreSQL's does not.
        row = s.get(EpisodeRow, episode_id)
        if row is not None:
            return row
        matches = (
            s.scalars(
                select(EpisodeRow)
                .where(EpisodeRow.id.istartswith(episode_id, autoescape=True))
                .limit(2)
            ).all()
            if episode_id
            else []
        )
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise InputError(f"episode id prefix {episode_id!r} is ambiguous: give more characters")
        raise NotFoundError(f"no episode {episode_id!r}: `castgraph episodes` lists the ids")


def _segment_row(ordinal: int, seg: Segment) -> SegmentRow:
    return SegmentRow(
        ordinal=ordinal,
        start=seg.start,
        end=seg.end,
        speaker=seg.speaker,
        text=seg.text,
        words=[
            [w.text, round(w.start, 3), round(w.end, 3), round(w.probability, 4)] for w in seg.words
        ],
    )


def _segment(row: SegmentRow, names: dict[str, str]) -> Segment:
    speaker = names.get(row.speaker, row.speaker) if row.speaker else None
    words = tuple(
        Word(text=str(t), start=float(a), end=float(b), probability=float(p), speaker=speaker)
        for t, a, b, p in row.words
    )
    return Segment(start=row.start, end=row.end, text=row.text, speaker=speaker, words=words)
