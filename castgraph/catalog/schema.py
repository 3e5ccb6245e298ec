"""Catalog tables (SQLAlchemy 2 ORM). The catalog is the source of truth; indexes derive from it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class EpisodeRow(Base):
    __tablename__ = "episodes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    source_id: Mapped[str] = mapped_column(String(512), unique=True, index=True)
    title: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(Text, default="")
    local_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    captions: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    duration: Mapped[float | None] = mapped_column(Float, nullable=True)
    published: Mapped[date | None] = mapped_column(Date, nullable=True)
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    transcript_source: Mapped[str | None] = mapped_column(String(16), nullable=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    pipeline_version: Mapped[str] = mapped_column(String(16))
    # The live build (null in catalogs written before builds: build 0). A re-process stages a
    # new build in ``episode_builds`` and swaps it in; ``retired_build`` is the one it replaced
    # until its index entries are removed; ``reprocess_error`` why the last re-process failed.
    build: Mapped[int | None] = mapped_column(Integer, nullable=True)
    retired_build: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reprocess_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime, server_default=func.now(), onupdate=func.now()
    )
    # Who is processing the episode (a job of the distributed queue) and until when; an expired
    # lease may be taken over (its worker died).
    lease_owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    pending: Mapped[BuildRow | None] = relationship(
        back_populates="episode", cascade="all, delete-orphan"
    )
    segments: Mapped[list[SegmentRow]] = relationship(
        back_populates="episode", cascade="all, delete-orphan", order_by="SegmentRow.ordinal"
    )
    speakers: Mapped[list[SpeakerRow]] = relationship(
        back_populates="episode", cascade="all, delete-orphan", order_by="SpeakerRow.label"
    )
    chunks: Mapped[list[ChunkRow]] = relationship(
        back_populates="episode", cascade="all, delete-orphan", order_by="ChunkRow.ordinal"
    )
    extraction: Mapped[ExtractionRow | None] = relationship(
        back_populates="episode", cascade="all, delete-orphan"
    )


class SegmentRow(Base):
    __tablename__ = "segments"

    episode_id: Mapped[str] = mapped_column(
        ForeignKey("episodes.id", ondelete="CASCADE"), primary_key=True
    )
    ordinal: Mapped[int] = mapped_column(Integer, primary_key=True)
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    speaker: Mapped[str | None] = mapped_column(String(64), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    # [[text, start, end, probability], ...]: compact, and read back whole with the segment.
    words: Mapped[list[list[Any]]] = mapped_column(JSON, default=list)

    episode: Mapped[EpisodeRow] = relationship(back_populates="segments")


class SpeakerRow(Base):
    __tablename__ = "speakers"

    episode_id: Mapped[str] = mapped_column(
        ForeignKey("episodes.id", ondelete="CASCADE"), primary_key=True
    )
    label: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str | None] = mapped_column(Text, nullable=True)
    voice_id: Mapped[int | None] = mapped_column(
        ForeignKey("voices.id", ondelete="SET NULL"), nullable=True
    )
    embedding: Mapped[list[float] | None] = mapped_column(JSON, nullable=True)
    # ``name`` is confirmed (a rename, or a renamed voice) and always wins; the guess (from the
    # transcript, or a guessed voice) names the speaker only when confident enough.
    guess_name: Mapped[str | None] = mapped_column(Text, nullable=True)
    guess_confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    # {"start": s | null, "end": s | null, "text": the sentence that names the speaker}
    guess_evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    episode: Mapped[EpisodeRow] = relationship(back_populates="speakers")


class VoiceRow(Base):
    """A named voice: the embedding a user named, matched against speakers of later episodes."""

    __tablename__ = "voices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(Text)
    embedding: Mapped[list[float]] = mapped_column(JSON)
    # The speaker this exemplar was named from; renaming it again replaces the exemplar.
    episode_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    label: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # True: named by a guess from the transcript, not by a person (null in older catalogs:
    # every voice was a rename then). A guessed voice never names a speaker as confirmed.
    guessed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())


class ChunkRow(Base):
    """A retrievable span of an episode; speakers are labels, named on read like segments."""

    __tablename__ = "chunks"

    episode_id: Mapped[str] = mapped_column(
        ForeignKey("episodes.id", ondelete="CASCADE"), primary_key=True
    )
    ordinal: Mapped[int] = mapped_column(Integer, primary_key=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    speakers: Mapped[list[str]] = mapped_column(JSON, default=list)
    language: Mapped[str] = mapped_column(String(16))
    # [[start, end, speaker label or null, text], ...]; null in catalogs written before v2.
    sentences: Mapped[list[list[Any]] | None] = mapped_column(JSON, nullable=True)

    episode: Mapped[EpisodeRow] = relationship(back_populates="chunks")


class ExtractionRow(Base):
    """The entities and relations found in an episode; its presence marks the analysis saved."""

    __tablename__ = "extractions"

    episode_id: Mapped[str] = mapped_column(
        ForeignKey("episodes.id", ondelete="CASCADE"), primary_key=True
    )
    extractor: Mapped[str] = mapped_column(String(32))
    # [[name, type, [aliases], [chunk ids]], ...] and [[source, target, type, [chunk ids], weight]]
    entities: Mapped[list[list[Any]]] = mapped_column(JSON, default=list)
    relations: Mapped[list[list[Any]]] = mapped_column(JSON, default=list)

    episode: Mapped[EpisodeRow] = relationship(back_populates="extraction")


class BuildRow(Base):
    """A build in progress beside the live one: what the swap makes live, in one transaction.

    The lists hold the column values of segment, speaker and chunk rows (and the extraction);
    null segments keep the live transcript (a re-analysis), null chunks: not analysed yet.
    """

    __tablename__ = "episode_builds"

    episode_id: Mapped[str] = mapped_column(
        ForeignKey("episodes.id", ondelete="CASCADE"), primary_key=True
    )
    build: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    transcript_source: Mapped[str | None] = mapped_column(String(16), nullable=True)
    duration: Mapped[float | None] = mapped_column(Float, nullable=True)
    segments: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    speakers: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    chunks: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    extraction: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())

    episode: Mapped[EpisodeRow] = relationship(back_populates="pending")


class SubscriptionRow(Base):
    """A source ingested on a schedule; ``next_due_at`` (UTC) is what the tick claims."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(Text, unique=True)
    # {"language", "captions", "limit"}: the ingest options of every run
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    cron: Mapped[str] = mapped_column(String(128))
    timezone: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="active")
    paused_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    pause_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    next_due_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    # True once a run listed the whole source: later runs may read a cheap feed instead.
    discovered: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime, server_default=func.now(), onupdate=func.now()
    )


class RunRow(Base):
    """One run of a subscription for one due time: the unique key makes a claim happen once."""

    __tablename__ = "runs"
    __table_args__ = (UniqueConstraint("subscription_id", "due_at", name="uq_run_due"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True
    )
    due_at: Mapped[datetime] = mapped_column(DateTime)
    trigger: Mapped[str] = mapped_column(String(16), default="schedule")
    state: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    found: Mapped[int] = mapped_column(Integer, default=0)
    ingested: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    # [{"episode_id", "title", "state", "error", "kind", "attempts"}, ...]
    episodes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # [{"kind", "message", "source", "episode_id", "title"}, ...]
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class JobRow(Base):
    """Work for the worker: an ingest request or a subscription run, with its progress."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    request: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("runs.id", ondelete="SET NULL"), nullable=True, index=True
    )
    # {"stage", "percent", "episode_id", "episode_title", "index", "total", "counts": {...}}
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class JobItemRow(Base):
    """One episode of a job run by the distributed queue: its outcome once its steps end."""

    __tablename__ = "job_items"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    episode_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ordinal: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(Text, default="")
    # pending, then indexed, failed, skipped or cancelled
    state: Mapped[str] = mapped_column(String(16), default="pending")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    kind: Mapped[str | None] = mapped_column(String(32), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
