"""Answers with cited moments: condense the follow-up, search, assemble numbered context blocks,
generate, and return only the sources the answer actually cites."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from castgraph.core.errors import BusyError, GenerationError, InputError
from castgraph.core.language import detect_language
from castgraph.core.models import AnswerRequest, ChatMessage, Citation, ContextBlock
from castgraph.core.ports import Generator
from castgraph.retrieval.base import SearchFilters
from castgraph.retrieval.generation.moments import Similarity, resolve_moments
from castgraph.retrieval.generation.postcheck import check_numbers, support_text
from castgraph.retrieval.generation.prompt import (
    NOT_FOUND,
    build_messages,
    condense_heuristic,
    condense_messages,
)
from castgraph.retrieval.search import SearchResult, SearchService

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000
MAX_HISTORY = 20


@dataclass(frozen=True, slots=True)
class AnswerEvent:
    """One step of a streamed answer: the consulted ``context`` blocks, a ``token``, the
    ``revised`` whole text when the post-check dropped unsupported figures (``info["dropped"]``),
    the cited ``sources`` (moments), ``done`` or ``error``."""

    kind: Literal["context", "token", "revised", "sources", "done", "error"]
    text: str = ""
    sources: tuple[ContextBlock, ...] = ()
    info: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    sources: tuple[ContextBlock, ...]
    query: str
    fallback: bool = False


@dataclass(frozen=True, slots=True)
class AnswerOptions:
    candidates: int = 10
    max_blocks: int = 6
    per_episode: int = 3
    merge_gap: float = 2.0


class AnswerService:
    """Ties search and a generator together; ``fallback`` answers when the generator fails."""

    def __init__(
        self,
        search: SearchService,
        generator: Generator,
        *,
        fallback: Generator | None = None,
        condense_with_llm: bool = False,
        facts: Callable[[str], list[str]] | None = None,
        options: AnswerOptions | None = None,
        similarity: Similarity | None = None,
        check_figures: bool = False,
    ) -> None:
        self._search = search
        self._generator = generator
        self._fallback = fallback
        self._condense_with_llm = condense_with_llm
        self._facts = facts
        self._options = options or AnswerOptions()
        self._similarity = similarity
        self._check_figures = check_figures

    def prepare(
        self,
        question: str,
        history: Sequence[ChatMessage] = (),
        filters: SearchFilters | None = None,
    ) -> AnswerRequest:
        """Validate, condense the follow-up, search and number the context blocks."""
        question = _validate(question, history)
        query = self._condense(question, history)
        outcome = self._search.search_outcome(query, self._options.candidates, filters)
        degraded = [(d.component, d.message) for d in outcome.degraded]
        blocks = assemble(outcome.results, self._options)
        language = detect_language(question)
        facts = self._graph_facts(query, degraded) if blocks else []
        messages = build_messages(question, language, blocks, facts)
        return AnswerRequest(question, language, tuple(blocks), messages, tuple(degraded))

    def _graph_facts(self, query: str, degraded: list[tuple[str, str]]) -> list[str]:
        """The graph's facts for the prompt; none (noted in ``degraded``) when the graph fails:
        the answer goes on from the retrieved moments alone."""
        if self._facts is None:
            return []
        try:
            return self._facts(query)
        except Exception as exc:  # the graph store down or broken
            log.warning("graph facts failed: answering without them", extra={"error": str(exc)})
            if all(component != "graph" for component, _ in degraded):
                degraded.append(("graph", str(exc) or type(exc).__name__))
            return []

    def stream(
        self,
        question: str,
        history: Sequence[ChatMessage] = (),
        filters: SearchFilters | None = None,
    ) -> Iterator[AnswerEvent]:
        """Tokens, then the cited sources, then done (or an error event)."""
        return self.generate(self.prepare(question, history, filters))

    def generate(self, request: AnswerRequest) -> Iterator[AnswerEvent]:
        """Stream the answer to a prepared request (``prepare`` raises on bad input first).

        The generator is asked here, before the first event: one that cannot take the request
        now raises ``BusyError`` to the caller (the API answers 503), not into the stream."""
        if not request.blocks:  # nothing retrieved: no model can answer from it
            pieces: Iterator[str] = iter([NOT_FOUND.get(request.language, NOT_FOUND["en"])])
        else:
            try:
                stream = self._generator.stream(request)
            except BusyError:
                raise
            except GenerationError as exc:  # raised in the stream, where fallback applies
                stream = _failing(exc)
            pieces = self._pieces(request, stream)
        return self._events(request, pieces)

    def _events(self, request: AnswerRequest, pieces: Iterator[str]) -> Iterator[AnswerEvent]:
        text: list[str] = []
        fallback = False
        degraded = [{"component": c, "message": m} for c, m in request.degraded]
        yield AnswerEvent("context", sources=request.blocks, info={"degraded": degraded})
        try:
            for piece in pieces:
                if piece is _FALLBACK:
                    fallback = True
                    continue
                text.append(piece)
                yield AnswerEvent("token", piece)
        except GenerationError as exc:
            log.warning("generation failed", extra={"error": str(exc)})
            yield AnswerEvent("error", str(exc), info={"status": 503})
            return
        finally:
            _close(pieces)  # a reader that left stops (or never starts) the generation
        answer = "".join(text)
        sources = tuple(resolve_moments(answer, request.blocks, self._similarity))
        if self._check_figures and not fallback and sources:
            revised = self._revise(answer, sources, request.language)
            if revised is not None:
                yield revised
                sources = tuple(resolve_moments(revised.text, request.blocks, self._similarity))
        yield AnswerEvent("sources", sources=sources)
        yield AnswerEvent("done", info={"fallback": fallback, "query": request.question})

    def answer(
        self,
        question: str,
        history: Sequence[ChatMessage] = (),
        filters: SearchFilters | None = None,
    ) -> Answer:
        """The whole answer at once; raises GenerationError when generation fails."""
        text: list[str] = []
        sources: tuple[ContextBlock, ...] = ()
        info: dict[str, object] = {}
        for event in self.stream(question, history, filters):
            if event.kind == "error":
                raise GenerationError(event.text)
            if event.kind == "token":
                text.append(event.text)
            elif event.kind == "revised":
                text = [event.text]
            elif event.kind == "sources":
                sources = event.sources
            else:
                info = event.info
        return Answer(
            "".join(text), sources, str(info.get("query", question)), bool(info.get("fallback"))
        )

    @staticmethod
    def _revise(answer: str, sources: Sequence[ContextBlock], language: str) -> AnswerEvent | None:
        """An LLM's claims whose figures no cited moment states are dropped (the extractive
        answerer only quotes, so it never needs this)."""
        support = {b.number: support_text(b.citation) for b in sources}
        cleaned, dropped = check_numbers(answer, support)
        if not dropped:
            return None
        log.warning("unsupported figures dropped", extra={"dropped": dropped})
        text = cleaned.strip() or NOT_FOUND.get(language, NOT_FOUND["en"])
        return AnswerEvent("revised", text, info={"dropped": dropped})

    def _pieces(self, request: AnswerRequest, stream: Iterator[str]) -> Iterator[str]:
        started = False
        try:
            for piece in stream:
                started = True
                yield piece
        except GenerationError:
            if started or self._fallback is None:
                raise
            log.warning("LLM unavailable, answering extractively")
            yield _FALLBACK
            yield from self._fallback.stream(request)
        finally:
            _close(stream)

    def _condense(self, question: str, history: Sequence[ChatMessage]) -> str:
        if not history:
            return question
        if self._condense_with_llm:
            request = AnswerRequest(question, "", (), condense_messages(question, history))
            try:
                rewritten = "".join(self._generator.stream(request)).strip()
            except GenerationError as exc:
                log.warning("condensing failed", extra={"error": str(exc)})
            else:
                if rewritten and len(rewritten) <= MAX_QUESTION_CHARS:
                    return rewritten
        return condense_heuristic(question, history)


_FALLBACK = "\x00fallback"


def _failing(exc: GenerationError) -> Iterator[str]:
    raise exc
    yield  # a generator: the error is raised on its first step


def _close(pieces: Iterator[str]) -> None:
    closer = getattr(pieces, "close", None)
    if closer is not None:
        closer()


def _validate(question: str, history: Sequence[ChatMessage]) -> str:
    text = question.strip()
    if not text:
        raise InputError("the question is empty: ask something about the episodes")
    if len(text) > MAX_QUESTION_CHARS:
        raise InputError(
            f"the question is {len(text)} characters long; the limit is {MAX_QUESTION_CHARS}"
        )
    if len(history) > MAX_HISTORY:
        raise InputError(f"history has {len(history)} messages; send at most {MAX_HISTORY}")
    for message in history:
        if message.role not in ("user", "assistant"):
            raise InputError(f"history roles are 'user' or 'assistant', got {message.role!r}")
    return text


def assemble(results: Sequence[SearchResult], options: AnswerOptions) -> list[ContextBlock]:
    """Merge touching chunks of an episode, cap blocks per episode, number them from 1."""
    merged: list[Citation] = []
    per_episode: dict[str, int] = {}
    for result in results:
        citation = _citation(result)
        near = next(
            (i for i, m in enumerate(merged) if _touching(m, citation, options.merge_gap)), None
        )
        if near is not None:
            merged[near] = _merge(merged[near], citation)
            continue
        if per_episode.get(citation.episode_id, 0) >= options.per_episode:
            continue
        if len(merged) >= options.max_blocks:
            break
        per_episode[citation.episode_id] = per_episode.get(citation.episode_id, 0) + 1
        merged.append(citation)
    return [ContextBlock(n, c) for n, c in enumerate(merged, start=1)]


def _citation(result: SearchResult) -> Citation:
    c = result.chunk
    return Citation(
        c.episode_id,
        c.title,
        c.url,
        result.link,
        c.speaker,
        c.start,
        c.end,
        c.text,
        sentences=c.sentences,
        published=c.published,
    )


def _touching(a: Citation, b: Citation, gap: float) -> bool:
    return a.episode_id == b.episode_id and b.start <= a.end + gap and a.start <= b.end + gap


def _merge(a: Citation, b: Citation) -> Citation:
    first, second = (a, b) if a.start <= b.start else (b, a)
    text = _join_overlapping(first.text, second.text)
    # Overlapping chunks share whole sentences: keep each once, in time order.
    unique = {(x.start, x.end, x.text): x for x in (*first.sentences, *second.sentences)}
    sentences = tuple(sorted(unique.values(), key=lambda x: (x.start, x.end)))
    return replace(first, end=max(a.end, b.end), text=text, sentences=sentences)


def _join_overlapping(left: str, right: str) -> str:
    """``left`` + ``right`` without the words the chunks share (chunks overlap by design)."""
    lw, rw = left.split(), right.split()
    for size in range(min(len(lw), len(rw)), 0, -1):
        if lw[-size:] == rw[:size]:
            return " ".join(lw + rw[size:])
    if right in left:
        return left
    return f"{left} {right}"
