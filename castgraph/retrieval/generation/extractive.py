"""The offline answerer: quotes the transcript sentences that best answer the question.

No model is needed. Each context block is split into sentences, every sentence is scored against
the question (``relevance``: stemmed-word overlap weighted by IDF, names, numbers, the kind of
answer asked for, an optional embedder, the block's rank), and the best one to
``max_sentences`` are quoted verbatim, each attributed to its speaker and moment and cited as
``[n]``. The connecting words follow the question's language; the quotes stay in the episode's.

Choices:

- Order: the best sentence comes first, because it is the answer; the supporting ones follow
  in episode and time order, introduced by "Más adelante"/"Later" (same episode, later),
  "Antes"/"Earlier" (same episode, earlier) or "También"/"Also" (another episode).
- Speakers: a name is used as is; a diarization label such as ``SPEAKER_00`` becomes
  "un participante (SPEAKER_00)" / "a speaker (SPEAKER_00)", which reads naturally and still
  matches the label shown in the transcript; no speaker at all drops the attribution
  ("En «Título» (00:24): …").
- Time: the block's start plus the sentence's share of the block's text, so a quote from the end
  of a 30-second block links near its end rather than to its start.
- Safety: transcript text, titles and names are only ever quoted: control and bidi characters are
  stripped, square brackets become parentheses (no fake ``[n]``), quotes are capped at 300
  characters, and nothing in them changes the connecting text.
"""

from __future__ import annotations

import logging
import re
import statistics
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from castgraph.core.errors import CastgraphError, InputError
from castgraph.core.language import detect_language
from castgraph.core.models import AnswerRequest, ContextBlock
from castgraph.core.timefmt import clock
from castgraph.retrieval.embeddings.cached import TextVectors
from castgraph.retrieval.generation.candidates import build_candidates, speaker_name
from castgraph.retrieval.generation.crosslingual import CACHE_SIZE, translate, widen
from castgraph.retrieval.generation.exchange import credit_replies
from castgraph.retrieval.generation.misheard import hear_alike
from castgraph.retrieval.generation.prompt import NOT_FOUND
from castgraph.retrieval.generation.relevance import (
    Candidate,
    analyze_question,
    is_question,
    score_candidates,
)
from castgraph.retrieval.generation.sentences import cap_quote, clean
from castgraph.retrieval.generation.support import (
    asks_about_change,
    asks_who_asked,
    asks_who_said,
    counted_thing,
    credit_named,
    restates,
    supports,
)
from castgraph.retrieval.keyword.analyzer import tokenize

log = logging.getLogger(__name__)

EMBEDDED_BLOCKS = 4
MAX_EMBEDDED_SENTENCES = 32
_DUPLICATE = 0.8
"""Share of the shorter sentence's words found in a chosen one that makes it a repeat."""
_PIECE = re.compile(r"\S+\s*")
_FINAL = (".", "!", "?", "…", '"', "”", "»", ")")

_TEMPLATES = {
    "es": {
        "first": "Según {who} en «{title}» ({time}):",
        "first_anon": "En «{title}» ({time}):",
        "later": "Más adelante ({time}), {who} agrega:",
        "later_anon": "Más adelante ({time}):",
        "earlier": "Antes ({time}), {who} dice:",
        "earlier_anon": "Antes ({time}):",
        "other": "También, según {who} en «{title}» ({time}):",
        "other_anon": "También en «{title}» ({time}):",
        "label": "un participante ({label})",
        "untitled": "sin título",
        "newest": "Lo más reciente, en «{title}» ({date}, {time}), {who} dice:",
        "newest_anon": "Lo más reciente, en «{title}» ({date}, {time}):",
        "older": "Antes, en «{title}» ({date}, {time}), {who} decía:",
        "older_anon": "Antes, en «{title}» ({date}, {time}):",
        "undated": "sin fecha",
    },
    "en": {
        "first": "According to {who} in “{title}” ({time}):",
        "first_anon": "In “{title}” ({time}):",
        "later": "Later ({time}), {who} adds:",
        "later_anon": "Later ({time}):",
        "earlier": "Earlier ({time}), {who} says:",
        "earlier_anon": "Earlier ({time}):",
        "other": "Also, according to {who} in “{title}” ({time}):",
        "other_anon": "Also in “{title}” ({time}):",
        "label": "a speaker ({label})",
        "untitled": "untitled",
        "newest": "Most recently, in “{title}” ({date}, {time}), {who} says:",
        "newest_anon": "Most recently, in “{title}” ({date}, {time}):",
        "older": "Earlier, in “{title}” ({date}, {time}), {who} said:",
        "older_anon": "Earlier, in “{title}” ({date}, {time}):",
        "undated": "undated",
    },
}


class QueryEmbedder(Protocol):
    """What the answerer needs from an embedder (``retrieval.embeddings`` ones qualify)."""

    def embed_query(self, text: str) -> list[float]: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


@dataclass(frozen=True, slots=True)
class Quote:
    """A chosen sentence: what to quote, from which block, at which second."""

    block: ContextBlock
    text: str
    seconds: float
    score: float
    speaker: str | None
    """Who said it, when known (the block's speaker, unless a question came before it)."""
    direct: bool


class ExtractiveGenerator:
    """A ``Generator`` that answers by quoting the best transcript sentences, with citations."""

    def __init__(
        self,
        embedder: QueryEmbedder | None = None,
        *,
        max_sentences: int = 3,
        min_score: float = 0.3,
        max_per_block: int = 2,
        relative_score: float = 0.6,
    ) -> None:
        if max_sentences < 1 or max_per_block < 1:
            raise InputError("the extractive answerer needs max_sentences and max_per_block ≥ 1")
        self._embedder = embedder
        self._words = TextVectors(embedder, CACHE_SIZE) if embedder is not None else None
        self._max_sentences = max_sentences
        self._min_score = min_score
        self._max_per_block = max_per_block
        self._relative_score = relative_score

    def stream(self, request: AnswerRequest) -> Iterator[str]:
        """The answer word by word (each piece keeps its trailing space)."""
        yield from _PIECE.findall(self.answer(request))

    def answer(self, request: AnswerRequest) -> str:
        """The whole answer, or the plain not-found sentence in the question's language."""
        language = answer_language(request)
        quotes = self.select(request)
        if not quotes:
            return NOT_FOUND[language]
        over_time = asks_about_change(request.question) and _episodes(quotes) > 1
        return render(quotes, language, over_time=over_time)

    def select(self, request: AnswerRequest) -> list[Quote]:
        """The sentences to quote, in answer order (best first, then by episode and time).

        Only sentences that state what is asked qualify (``support``); none → abstain. For a
        question about change over time, one sentence per episode, newest episode first.
        """
        candidates = _candidates(request)
        if not candidates:
            return []
        analysed = analyze_question(request.question)
        question = hear_alike(analysed, candidates)
        if self._words is not None:  # words of the other language's sentences, by meaning
            question = translate(question, candidates, self._words)
        score_candidates(question, candidates, self._similarities(request.question, candidates))
        credit_replies(candidates)
        if asks_who_said(request.question):
            credit_named(question, candidates)
        # A host's question is context for the sentences after it, never an answer (unless
        # the question is who asked it).
        who_asked = asks_who_asked(request.question)
        counted = widen(counted_thing(request.question), analysed, question)
        answers = [
            c
            for c in candidates
            # Weak sentences are never chosen: skip the support rule's (fuzzy) work for them.
            if c.score >= self._min_score
            and (who_asked or not is_question(c.text))
            and supports(question, c, counted)
        ]
        if asks_about_change(request.question):
            # A host restating an old figure is not the new figure.
            current = [c for c in answers if not restates(c.text)]
            chosen = self._per_episode(current, request.blocks)
            return _newest_first([_quote(request.blocks[c.rank], c) for c in chosen])
        chosen = self._choose(answers)
        quotes = [_quote(request.blocks[c.rank], c) for c in chosen]
        if not quotes:
            return []
        return quotes[:1] + _by_episode_and_time(quotes[1:], quotes[0].block.citation.episode_id)

    def _per_episode(
        self, answers: Sequence[Candidate], blocks: Sequence[ContextBlock]
    ) -> list[Candidate]:
        """The best supported sentence of each episode (at most ``max_sentences`` episodes)."""
        best: dict[str, Candidate] = {}
        for candidate in sorted(answers, key=lambda c: (-c.score, c.rank, c.start)):
            episode = blocks[candidate.rank].citation.episode_id
            if candidate.score >= self._min_score and episode not in best:
                best[episode] = candidate
        return list(best.values())[: self._max_sentences]

    def _similarities(self, question: str, candidates: Sequence[Candidate]) -> list[float] | None:
        if self._embedder is None:
            return None
        # Embedding every sentence is most of the time to first token: embed those of the best
        # retrieved blocks only; the others get the median (no standout either way).
        chosen = [i for i, c in enumerate(candidates) if c.rank < EMBEDDED_BLOCKS]
        chosen = chosen[:MAX_EMBEDDED_SENTENCES]
        try:
            query = self._embedder.embed_query(question)
            vectors = self._embedder.embed([candidates[i].text for i in chosen])
        except CastgraphError as exc:  # the answerer is the fallback: degrade, do not fail
            log.warning("embedder failed, answering from word overlap", extra={"error": str(exc)})
            return None
        # Vectors are L2-normalised (Embedder port), so the dot product is the cosine.
        found = {
            i: sum(a * b for a, b in zip(query, v, strict=False))
            for i, v in zip(chosen, vectors, strict=True)
        }
        middle = statistics.median(found.values()) if found else 0.0
        return [found.get(i, middle) for i in range(len(candidates))]

    def _choose(self, answers: Sequence[Candidate]) -> list[Candidate]:
        ordered = sorted(answers, key=lambda c: (-c.score, c.rank, c.start))
        if not ordered or ordered[0].score < self._min_score:
            return []
        floor = max(self._min_score, self._relative_score * ordered[0].score)
        chosen: list[Candidate] = []
        per_block: dict[int, int] = {}
        for candidate in ordered:
            if candidate.score < floor or len(chosen) >= self._max_sentences:
                break
            if per_block.get(candidate.rank, 0) >= self._max_per_block:
                continue
            if any(_repeats(candidate, other) for other in chosen):
                continue
            chosen.append(candidate)
            per_block[candidate.rank] = per_block.get(candidate.rank, 0) + 1
        return chosen


def answer_language(request: AnswerRequest) -> str:
    """``"es"`` or ``"en"``: the request's language, or the question's when it names neither."""
    code = request.language.strip().lower().replace("_", "-").split("-")[0]
    return code if code in ("es", "en") else detect_language(request.question)


def _candidates(request: AnswerRequest) -> list[Candidate]:
    topics = asks_about_change(request.question)
    return build_candidates(request.blocks, answer_language(request), topics=topics)


def _repeats(candidate: Candidate, other: Candidate) -> bool:
    """Overlapping chunks repeat sentences, sometimes cut: compare their word sets."""
    if candidate.rank == other.rank and candidate.start < other.end and other.start < candidate.end:
        return True
    words, seen = set(tokenize(candidate.text)), set(tokenize(other.text))
    smaller = min(len(words), len(seen))
    return smaller > 0 and len(words & seen) / smaller >= _DUPLICATE


def _quote(block: ContextBlock, candidate: Candidate) -> Quote:
    text = cap_quote(candidate.text)
    if not text.endswith(_FINAL):  # a piece of a run-on sentence or of a cut chunk
        text = text.rstrip(" ,;:-—") + "…"
    return Quote(block, text, candidate.seconds, candidate.score, candidate.speaker, True)


def _by_episode_and_time(quotes: list[Quote], first_episode: str) -> list[Quote]:
    episodes = [first_episode]
    for quote in quotes:
        if quote.block.citation.episode_id not in episodes:
            episodes.append(quote.block.citation.episode_id)
    return sorted(quotes, key=lambda q: (episodes.index(q.block.citation.episode_id), q.seconds))


def _newest_first(quotes: list[Quote]) -> list[Quote]:
    """Quotes ordered by their episode's publication date, newest first (undated last)."""
    return sorted(
        quotes,
        key=lambda q: (
            q.block.citation.published is None,
            -(q.block.citation.published.toordinal() if q.block.citation.published else 0),
            q.seconds,
        ),
    )


def _episodes(quotes: Sequence[Quote]) -> int:
    return len({q.block.citation.episode_id for q in quotes})


def render(quotes: Sequence[Quote], language: str, *, over_time: bool = False) -> str:
    """The answer text: each quote introduced, attributed, timed and cited as ``[n]``.

    ``over_time``: the quotes are one per episode, newest first, and the answer says which
    episode is newer and when each was published.
    """
    templates = _TEMPLATES[language]
    sentences: list[str] = []
    previous: Quote | None = None
    for quote in quotes:
        intro = (
            _dated_intro(quote, previous is None, templates)
            if over_time
            else _intro(quote, previous, templates)
        )
        sentences.append(f"{intro} “{quote.text}” [{quote.block.number}]")
        previous = quote
    return " ".join(sentences)


def _dated_intro(quote: Quote, newest: bool, templates: dict[str, str]) -> str:
    citation = quote.block.citation
    who = _who(quote.speaker, templates)
    key = "newest" if newest else "older"
    title = cap_quote(clean(citation.title), 120) or templates["untitled"]
    date = citation.published.isoformat() if citation.published else templates["undated"]
    template = templates[key if who else f"{key}_anon"]
    return template.format(who=who, title=title, date=date, time=clock(quote.seconds))


def _intro(quote: Quote, previous: Quote | None, templates: dict[str, str]) -> str:
    citation = quote.block.citation
    if previous is None:
        key = "first"
    elif previous.block.citation.episode_id != citation.episode_id:
        key = "other"
    else:
        key = "later" if quote.seconds >= previous.seconds else "earlier"
    who = _who(quote.speaker, templates)
    title = cap_quote(clean(citation.title), 120) or templates["untitled"]
    template = templates[key if who else f"{key}_anon"]
    return template.format(who=who, title=title, time=clock(quote.seconds))


def _who(speaker: str | None, templates: dict[str, str]) -> str | None:
    if not speaker or not clean(speaker):
        return None
    name = cap_quote(clean(speaker), 80)
    return name if speaker_name(name) else templates["label"].format(label=name)
