"""Request and response shapes of ``/api/chat`` and the OpenAI-compatible ``/v1`` routes."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from castgraph.api.media import public_url
from castgraph.api.schemas import DegradedOut
from castgraph.api.speaker_schemas import LINK_HELP
from castgraph.core.models import ChatMessage, ContextBlock
from castgraph.retrieval.answer import MAX_HISTORY, MAX_QUESTION_CHARS
from castgraph.retrieval.base import SearchFilters


class Turn(BaseModel):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=20_000)


class Filters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    episode: list[str] = Field(default=[], description="Episode ids (or unique prefixes).")
    speaker: list[str] = []
    language: list[str] = []
    date_from: date | None = None
    date_to: date | None = None

    @field_validator("date_from", "date_to", mode="before")
    @classmethod
    def _dates_are_text(cls, value: object) -> object:
        # Pydantic would read a number as a Unix timestamp (0 → 1970-01-01): a client's mistake
        # silently becomes a filter. The schema says YYYY-MM-DD; so does this (found by fuzzing).
        if value is not None and not isinstance(value, str | date):
            raise ValueError("give the date as text, YYYY-MM-DD")
        return value

    def to_filters(self) -> SearchFilters:
        return SearchFilters(
            tuple(self.episode),
            tuple(self.speaker),
            tuple(self.language),
            self.date_from,
            self.date_to,
        )


class ChatRequest(BaseModel):
    """``POST /api/chat``: a question, optional history and filters; SSE unless stream=false."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    history: list[Turn] = Field(default=[], max_length=MAX_HISTORY)
    filters: Filters | None = None
    stream: bool = True

    def turns(self) -> list[ChatMessage]:
        return [ChatMessage(t.role, t.content) for t in self.history]


class MomentContext(BaseModel):
    """The enclosing block of a cited moment, to widen the view."""

    start: float
    end: float
    text: str


class Source(BaseModel):
    """A cited moment, shaped like a search result plus the number the answer cites.

    ``start``/``end``/``speaker``/``link`` are those of the sentence(s) the claim rests on;
    ``kind`` says how they were found (``quote``: verbatim, ``paraphrase``: aligned, ``block``:
    no sentence could be singled out, so the moment is the whole block).
    """

    number: int
    episode_id: str
    title: str
    url: str
    link: str = Field(description=LINK_HELP)
    speaker: str | None
    start: float
    end: float
    text: str
    kind: Literal["quote", "paraphrase", "block"] = "block"
    published: str | None = None
    context: MomentContext | None = None

    @classmethod
    def of(cls, block: ContextBlock) -> Source:
        c = block.citation
        context = c.context
        return cls(
            number=block.number,
            episode_id=c.episode_id,
            title=c.title,
            url=public_url(c.url, c.episode_id),
            link=c.link,
            speaker=c.speaker,
            start=c.start,
            end=c.end,
            text=c.text,
            kind=c.kind,
            published=c.published.isoformat() if c.published else None,
            context=MomentContext(start=context.start, end=context.end, text=context.text)
            if context
            else None,
        )


class ChatResponse(BaseModel):
    answer: str
    sources: list[Source]
    degraded: list[DegradedOut] = Field(
        default=[],
        description="Stores the search behind this answer had to do without (empty: none).",
    )


class OpenAIMessage(BaseModel):
    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: keep the text ones
            return " ".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class CompletionRequest(BaseModel):
    """The subset of OpenAI's chat completion request castgraph uses; other fields are ignored."""

    model: str = "castgraph"
    messages: list[OpenAIMessage] = Field(min_length=1)
    stream: bool = False
