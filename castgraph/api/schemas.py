"""The JSON shapes of the HTTP API (design §5)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from castgraph.api.media import public_url
from castgraph.api.speaker_schemas import LINK_HELP, SpeakerOut
from castgraph.core.models import Episode
from castgraph.retrieval.search import SearchResult


class Signals(BaseModel):
    """The 1-based rank of the result in each retriever that found it (null: not found by it)."""

    vector: int | None = None
    keyword: int | None = None
    graph: int | None = None


class SentenceOut(BaseModel):
    """One sentence of a moment: its own time span and speaker."""

    start: float
    end: float
    speaker: str | None
    text: str


class SearchHit(BaseModel):
    """One moment: the episode, the speaker, the time span and a link that opens it."""

    episode_id: str
    title: str
    url: str
    link: str = Field(description=LINK_HELP)
    published: str | None = Field(default=None, description="The episode's publication date.")
    speaker: str | None
    speakers: list[str]
    start: float
    end: float
    text: str
    score: float
    signals: Signals
    sentences: list[SentenceOut] = Field(
        default=[], description="The chunk's sentences, each with its own times and speaker."
    )

    @classmethod
    def of(cls, result: SearchResult) -> SearchHit:
        chunk = result.chunk
        return cls(
            episode_id=chunk.episode_id,
            title=chunk.title,
            url=public_url(chunk.url, chunk.episode_id),
            link=result.link,
            published=chunk.published.isoformat() if chunk.published else None,
            speaker=chunk.speaker,
            speakers=list(chunk.speakers),
            start=chunk.start,
            end=chunk.end,
            text=chunk.text,
            score=round(result.score, 6),
            signals=Signals(**result.signals),
            sentences=[
                SentenceOut(start=x.start, end=x.end, speaker=x.speaker, text=x.text)
                for x in chunk.sentences
            ],
        )


class DegradedOut(BaseModel):
    """A store the request had to do without (down or failing), and why."""

    component: str = Field(description="vector, keyword or graph.")
    message: str


class SearchResponse(BaseModel):
    query: str
    results: list[SearchHit]
    degraded: list[DegradedOut] = Field(
        default=[],
        description="Retrievers that failed and were left out of this search (empty: none); "
        "the results come from the others.",
    )


class EpisodeOut(BaseModel):
    id: str
    title: str
    url: str
    state: str
    duration: float | None
    language: str | None
    published: str | None
    speakers: list[str]
    error: str | None
    reprocessing: str | None = Field(
        default=None,
        description="The stage of a re-process running beside the searchable version "
        "(null: none is); the episode stays searchable meanwhile.",
    )
    reprocess_error: str | None = Field(
        default=None,
        description="Why the last re-process failed; the previous version is still searchable.",
    )
    build: int = Field(default=0, description="The number of the searchable build.")

    @classmethod
    def of(cls, episode: Episode) -> EpisodeOut:
        return cls(
            id=episode.id,
            title=episode.title,
            url=public_url(episode.url, episode.id),
            state=episode.state.value,
            duration=episode.duration,
            language=episode.language,
            published=episode.published.isoformat() if episode.published else None,
            speakers=episode.speakers,
            error=episode.error,
            reprocessing=episode.reprocessing,
            reprocess_error=episode.reprocess_error,
            build=episode.build,
        )


class SegmentOut(BaseModel):
    start: float
    end: float
    speaker: str | None
    text: str
    link: str = Field(description=LINK_HELP)


class EpisodeDetail(EpisodeOut):
    segments: list[SegmentOut]
    sentences: list[SegmentOut] = Field(
        default=[], description="Every sentence with its own times, speaker and link."
    )
    speaker_details: list[SpeakerOut] = Field(
        default=[], description="Every speaker: label, name, confirmed or guessed, evidence."
    )


class ErrorOut(BaseModel):
    detail: str
