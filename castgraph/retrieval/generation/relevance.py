"""How well a transcript sentence answers a question, without a model.

The score of a sentence adds up:

- **coverage**: the IDF-weighted share of the question's content words found in the sentence
  (Snowball stems of both languages, so "fermentar" meets "ferment"). A word found only nearby
  earns part of its weight: in the two sentences before (Spanish drops subjects, and a guest's
  answer follows the host's question), in the name of the sentence's speaker ("Trabajo en el
  Observatorio…" said by Valeria Quiroga answers "¿Dónde trabaja Valeria Quiroga?"), or in the
  episode title;
- **bonuses** for the names (capitalised words) and numbers of the question found in the
  sentence, and for the kind of thing asked: a number for "¿cuántas…?"/"how many…", a date for
  "when", a proper noun for "who"/"where";
- **embedding** (with an embedder): how much the sentence's cosine with the question stands out
  from the median of the candidates; relative, so it works whatever the model's cosine range,
  and it carries cross-language questions where words do not overlap;
- a small **prior** for the block's retrieval rank.

Neighbouring question words that keep meeting in the same sentences ("masa madre") count as
one phrase, and IDF is smoothed: a few dozen sentences are too few for raw IDF. Sentences that
share only names (or title words) with a question that asks about more are damped: they are not
``direct`` answers, and the answerer says so.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from castgraph.core.text import fold
from castgraph.retrieval.generation.focus import (
    CHANGE_WORDS,
    PARTICLES,
    RELATION_WORDS,
    asked_kind,
    asks_relation,
    entity_runs,
    word_set,
)
from castgraph.retrieval.generation.numbers import NUMBER_WORDS as _NUMBERS
from castgraph.retrieval.generation.numbers import number_values
from castgraph.retrieval.keyword.analyzer import (
    ENGLISH_STOPWORDS,
    SPANISH_STOPWORDS,
    analyze_both,
    tokenize,
)

NAME_WEIGHT = 0.5
PHRASE_OVERLAP = 0.6
"""Share of sentences two neighbouring question words must have in common to form a phrase."""
NEARBY_CREDIT = 0.5
SPEAKER_CREDIT = 0.6
TITLE_CREDIT = 0.3
W_ENTITY = 0.2
W_NUMBER = 0.2
W_KIND = 0.1
W_EMBED = 0.4
W_PRIOR = 0.05
NAMES_ONLY_DAMPING = 0.5
DIRECT_COSINE = 0.25
"""The cosine below which no standout counts as a direct answer (unrelated pairs score ~0.05
with the packaged multilingual encoder, a question and its answer across languages ~0.35)."""
DIRECT_STANDOUT = 0.5
FOREIGN_STANDOUT = 0.35
"""The standout that suffices for a sentence in another language than the question: there
words cannot overlap, so meaning is all the evidence there is."""
"""An embedding standout that makes a sentence a direct answer even without shared words."""

_MONTHS = word_set(
    "enero febrero marzo abril mayo junio julio agosto septiembre setiembre octubre noviembre "
    "diciembre january february march april june july august september october november "
    "december"
)
# Folded words that frame a question rather than say what it is about ("¿Qué dijeron sobre…?").
_QUESTION_WORDS = word_set(
    """
    que cual cuales quien quienes donde adonde cuando como cuanto cuanta cuantos cuantas
    what which who whom whose where when why how many much segun according episodio episodios
    episode episodes podcast programa show dice dicen dijo dijeron cuenta cuentan conto contaron
    recuerda recuerdan recordo habla hablan hablo hablaron menciona mencionan menciono
    mencionaron opina opinan explica explico say says said tell tells told talk talks talked
    mention mentions mentioned explain explains explained think thinks
    """
)
_ASKING = re.compile(r"\?[\"'”»)]*$|¿")
_INDIRECT = re.compile(
    r"\b(?:dónde|cuándo|cuánt[oa]s?|quién(?:es)?|cuál(?:es)?|"
    r"contanos|contame|cuéntanos|cuéntame|decinos|decime|dinos|dime|explicanos|explicame|"
    r"explícanos|explícame|tell\s+us|tell\s+me)\b",
    re.IGNORECASE,
)
"""Accented wh-words and requests mark indirect questions too: "contanos dónde trabajás",
"Valeria, contanos…" (ASR often drops the accent and the question mark)."""
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Question:
    """The parts of a question that sentences are matched against."""

    groups: tuple[frozenset[str], ...]
    """Per content word, its Spanish and English stems."""
    names: frozenset[int]
    """Indexes of the groups that come from capitalised words (people, places)."""
    numbers: frozenset[int]
    kind: str
    """What is asked for: "number", "age", "time", "person", "place" or ""."""
    words: tuple[str, ...] = ()
    """The question's word behind each group (folded), for matching it across languages."""
    entities: tuple[tuple[int, ...], ...] = ()
    """The name groups of each entity the question names ("Mercado de San Telmo" is one)."""
    relation: bool = False
    """Whether it asks how its entities relate: then every entity must be attested."""


@dataclass(slots=True)
class Candidate:
    """A sentence of a context block, with what scoring needs to know about it."""

    rank: int
    """Position of its block in the request (0 is the best retrieved)."""
    start: int
    end: int
    position: float
    """Where the sentence starts in its block, as a share of the block's text (0 to 1)."""
    text: str
    terms: frozenset[str]
    nearby_terms: frozenset[str]
    """Terms of the two sentences before it in the same block."""
    speaker_terms: frozenset[str]
    """Terms of its speaker's name, when the sentence is known to be theirs."""
    title_terms: frozenset[str]
    speaker_known: bool = True
    """False once a question was asked earlier in the block: the answer is someone else's."""
    score: float = 0.0
    direct: bool = False
    """Whether it shares more than names with the question (or its embedding stands out)."""
    seconds: float = 0.0
    """When it was said (seconds from the episode start)."""
    speaker: str | None = None
    """Who said it, when known."""
    turn_terms: frozenset[str] = frozenset()
    """Terms of the speaker's turn around it and of the line that handed the turn over."""
    handover_terms: frozenset[str] = frozenset()
    """Terms of the other speaker's line that handed the turn over (part of ``turn_terms``)."""
    cosine: float = 0.0
    """Its embedding cosine with the question (0 without an embedder)."""
    foreign: bool = False
    """Whether it is in another language than the question."""
    intro: str = ""
    """The opening lines of its episode found in the context (names said there are topics)."""


def is_question(sentence: str) -> bool:
    """Whether a transcript sentence asks ("?", "¿", or an indirect "contanos dónde trabajás").

    Such a sentence is never quoted as an answer; it is context for the sentences after it.
    """
    return _ASKING.search(sentence) is not None or _INDIRECT.search(sentence) is not None


def analyze_question(question: str) -> Question:
    """Content-word groups, names, entities, numbers and the kind of answer of ``question``."""
    tokens = tokenize(question)
    spanish = sum(t in SPANISH_STOPWORDS for t in tokens)
    english = sum(t in ENGLISH_STOPWORDS for t in tokens)
    # The same rule as the keyword index's query_terms: stopwords of the question's language.
    stop = SPANISH_STOPWORDS if spanish > english else ENGLISH_STOPWORDS
    if spanish == english:
        stop = SPANISH_STOPWORDS | ENGLISH_STOPWORDS
    kind, framing_at = asked_kind(question, tokens)
    relation = asks_relation(question)
    framing = _QUESTION_WORDS | (RELATION_WORDS if relation else frozenset())
    if any(t in CHANGE_WORDS for t in tokens):  # "¿Cambió…?", "still", "ahora": framing
        framing = framing | CHANGE_WORDS
    runs = entity_runs(question)
    names = name_tokens(question)
    # Particles inside a name ("Mercado *de* San Telmo") are part of it, not content.
    particles = {w for run in runs for w in run if w in PARTICLES}
    groups: list[frozenset[str]] = []
    words: list[str] = []
    name_groups: set[int] = set()
    for at, token in enumerate(tokens):
        if token in stop or token in framing or token in _NUMBERS or token.isdigit():
            continue
        if at in framing_at:  # "¿En qué *año*…?": the kind of answer, not its content
            continue
        if token in particles:
            continue
        group = frozenset(analyze_both(token)) or frozenset([token])
        if group in groups:
            continue
        if token in names:
            name_groups.add(len(groups))
        groups.append(group)
        words.append(token)
    entities = tuple(
        ids
        for run in runs
        if (ids := tuple(i for i, w in enumerate(words) if w in run and i in name_groups))
    )
    return Question(
        tuple(groups),
        frozenset(name_groups),
        number_values(tokens),
        kind,
        tuple(words),
        entities,
        relation,
    )


def name_tokens(text: str) -> frozenset[str]:
    """Folded tokens of the question's names (``focus.entity_runs``), particles aside."""
    found = {t for run in entity_runs(text) for w in run for t in tokenize(w)}
    stop = SPANISH_STOPWORDS | ENGLISH_STOPWORDS | _QUESTION_WORDS | PARTICLES
    return frozenset(t for t in found if t not in stop)


def score_candidates(
    question: Question, candidates: Sequence[Candidate], similarities: Sequence[float] | None
) -> None:
    """Set the ``score`` and ``direct`` of every candidate (see the module docstring)."""
    merged = _merge_phrases(question, candidates)
    weights = _idf(merged, candidates)
    total = sum(weights)
    standout = _standout(similarities) if similarities else [0.0] * len(candidates)
    cosines = similarities or [0.0] * len(candidates)
    blocks = max((c.rank for c in candidates), default=0) + 1
    title_topic = _only_title_words(merged, candidates)
    asked = frozenset(question.words)
    for candidate, emb, cosine in zip(candidates, standout, cosines, strict=True):
        score = _coverage(merged, candidate, weights, total)
        score += _bonuses(merged, candidate, asked) + W_EMBED * emb
        # Some sentence always stands out from the median: only a close one answers directly.
        needed = FOREIGN_STANDOUT if candidate.foreign else DIRECT_STANDOUT
        by_meaning = emb >= needed and cosine >= DIRECT_COSINE
        candidate.direct = by_meaning or _is_direct(question, candidate, title_topic)
        candidate.cosine = cosine
        if not candidate.direct:
            score *= NAMES_ONLY_DAMPING
        candidate.score = score + W_PRIOR * (blocks - candidate.rank) / blocks


def _is_direct(question: Question, candidate: Candidate, title_topic: bool) -> bool:
    """Whether the sentence (or the two before it) holds a word of the question that is neither
    a name nor a word of the episode title ("…en el episodio sobre masa madre"). When the
    question's other words are found nowhere ("What are green roofs mainly for?" in "Green
    roofs or shady streets?"), a title word in the sentence itself counts."""
    if len(question.names) == len(question.groups):  # "¿Quién es Valeria Quiroga?"
        return True
    seen = candidate.terms | candidate.nearby_terms
    return any(
        (group & seen and not group & candidate.title_terms)
        or (title_topic and group & candidate.terms)
        for i, group in enumerate(question.groups)
        if i not in question.names
    )


def _only_title_words(question: Question, candidates: Sequence[Candidate]) -> bool:
    """Whether no non-name word of the question is found outside the episode titles."""
    return not any(
        (group - c.title_terms) & c.terms  # phrases merge words: look past the title's ones
        for i, group in enumerate(question.groups)
        if i not in question.names
        for c in candidates
    )


def _merge_phrases(question: Question, candidates: Sequence[Candidate]) -> Question:
    """Neighbouring question words found in the same sentences ("masa madre", "green roofs")
    become one group, so that a phrase does not outweigh the word that asks about it."""
    groups: list[frozenset[str]] = []
    names: set[int] = set()
    last: set[int] = set()
    for i, group in enumerate(question.groups):
        found = {k for k, c in enumerate(candidates) if group & c.terms}
        shared = len(found & last)
        # Two words met in one sentence only are a coincidence, not yet a phrase.
        if groups and shared >= 2 and shared / len(found | last) >= PHRASE_OVERLAP:
            groups[-1] |= group
            if i not in question.names:
                names.discard(len(groups) - 1)
            last &= found
            continue
        if i in question.names:
            names.add(len(groups))
        groups.append(group)
        last = found
    # For scoring only: the support rule reads entities and words from the analysed question.
    return Question(tuple(groups), frozenset(names), question.numbers, question.kind)


def _idf(question: Question, candidates: Sequence[Candidate]) -> list[float]:
    n = len(candidates)
    weights: list[float] = []
    for i, group in enumerate(question.groups):
        df = sum(1 for c in candidates if group & c.terms)
        # Smoothed, and a word found nowhere counts as a rare one: with a few dozen sentences
        # raw IDF would let one missing word outweigh everything the sentence does match.
        idf = 1.0 + math.log((n + 1) / (max(df, 1) + 1))
        # Names say what the question is about, the other words what it asks about it.
        weights.append(idf * NAME_WEIGHT if i in question.names else idf)
    return weights


def _coverage(
    question: Question, candidate: Candidate, weights: Sequence[float], total: float
) -> float:
    """The weighted share of the question's groups found in or next to the sentence."""
    got = 0.0
    for group, weight in zip(question.groups, weights, strict=True):
        if group & candidate.terms:
            got += weight
        elif group & candidate.speaker_terms:
            got += SPEAKER_CREDIT * weight
        elif group & candidate.nearby_terms:
            got += NEARBY_CREDIT * weight
        elif group & candidate.title_terms:
            got += TITLE_CREDIT * weight
    return got / total if total else 0.0


def _bonuses(question: Question, candidate: Candidate, asked: frozenset[str]) -> float:
    bonus = 0.0
    if question.names:
        known = candidate.terms | candidate.speaker_terms
        found = sum(1 for i in question.names if question.groups[i] & known)
        bonus += W_ENTITY * found / len(question.names)
    tokens = tokenize(candidate.text)
    numbers = number_values(tokens)
    if question.numbers:
        bonus += W_NUMBER * len(question.numbers & numbers) / len(question.numbers)
    if has_kind(question.kind, candidate.text, tokens, numbers, asked):
        bonus += W_KIND
    return bonus


def has_kind(
    kind: str,
    text: str,
    tokens: Sequence[str],
    numbers: frozenset[int],
    asked: frozenset[str] = frozenset(),
) -> bool:
    """Whether ``text`` holds the kind of fact asked for (a number, a date, a name other than
    the ``asked`` words: "New Jersey" does not answer "Who lives in New Jersey?")."""
    if kind in ("number", "age"):
        return bool(numbers)
    if kind == "time":
        return bool(numbers) or any(t in _MONTHS for t in tokens)
    if kind in ("person", "place"):
        return any(
            w[0].isupper() and len(w) > 1 and fold(w) not in asked  # not "I"
            for w in _WORD.findall(text)[1:]
        )
    return False


def _standout(similarities: Sequence[float]) -> list[float]:
    """How far each cosine is above the median, as a share of the room left above it."""
    ordered = sorted(similarities)
    middle = len(ordered) // 2
    median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    room = max(1e-6, 1.0 - median)
    return [max(0.0, (s - median) / room) for s in similarities]
