"""Whether a sentence states what a question asks: the rule behind answering honestly.

Retrieval always returns *something*; a sentence about the right person with the wrong kind of
fact ("La Espiga is two blocks from the park" for "how many people work at La Espiga?") is a
near miss, not an answer. A sentence supports an answer only when, together in the sentence or
its speaker's turn:

- the question's **focus entities** (its names: people, places, organisations) are attested — in
  the sentence, the speaker's turn, the line that handed them the turn (a question, an
  introduction), the speaker's own name, or the episode title (an episode about Barracas is
  about Barracas throughout). ASR spells names by ear, so a close spelling counts;
- the **kind of fact** asked for is in the quoted sentence itself (``kinds``: a count that is
  no year and counts what is asked, an age that is no duration, a date, a name or a place that
  is not one of the question's own);
- the fact is not about someone else: when the focus is only mentioned elsewhere in the
  speaker's turn and the sentence names another entity, its fact is that entity's;
- and the sentence says something about what is asked beyond the names (``direct``), unless
  the names and a fact of the asked kind stand in the sentence itself ("Our guest is Hannah,
  from the Delta Lab" answers "where does Hannah work?").

Everything else makes the answerer abstain, in the question's language.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Sequence
from dataclasses import replace

from rapidfuzz import fuzz

from castgraph.core.text import phonetic
from castgraph.retrieval.generation.candidates import speaker_name
from castgraph.retrieval.generation.focus import AGE_WORDS
from castgraph.retrieval.generation.kinds import (
    MIN_FUZZY_LENGTH,
    NAME_SIMILARITY,
    counts,
    kind_attested,
    other_names,
)
from castgraph.retrieval.generation.relevance import Candidate, Question
from castgraph.retrieval.keyword.analyzer import (
    ENGLISH_STOPWORDS,
    SPANISH_STOPWORDS,
    analyze_both,
    tokenize,
)

_WHO_SAID = re.compile(
    r"\b(?:qui[eé]n(?:es)?\s+(?:dijo|dijeron|dice|cont[oó]|coment[oó]|mencion[oó]|"
    r"explic[oó]|cit[oó]|ley[oó]|pregunt[oó]|habl[oó]|present[oó])|"
    r"who\s+(?:said|says|told|mentioned|explained|cited|quoted|read|asked|talked|spoke|"
    r"introduced))\b",
    re.IGNORECASE,
)
_RESTATES = re.compile(
    r"\b(?:(?:first|last|previous|earlier|other)\s+(?:episode|show)|"
    r"(?:primer|[uú]ltimo|otro)\s+(?:episodio|programa)|(?:episodio|programa)\s+anterior|"
    r"as\s+we\s+(?:said|heard|told|saw)|como\s+(?:dijimos|contamos|escuchamos|vimos)|"
    r"go\s+back\s+to|volvemos\s+a)\b",
    re.IGNORECASE,
)
MIN_HEARD_LENGTH = 7
"""Letters a question's name needs to be matched by sound (short sound keys match too much)."""
NAMED_CREDIT = 0.15
"""Score added, for "who said…?", to sentences that can name the speaker."""
_WHO_ASKED = re.compile(r"\b(?:qui[eé]n(?:es)?\s+pregunt|who\s+(?:asked|asks))", re.IGNORECASE)
_CHANGE = re.compile(
    r"\b(?:ahora|actualmente|hoy|todav[ií]a|sigue|siguen|cambi\w*|[uú]ltim\w*|nuev\w*|"
    r"reciente\w*|evolu\w*|antes|despu[eé]s|now|currently|today|still|chang\w*|latest|newest|"
    r"recent\w*|updat\w*|anymore|before|after|over\s+time|episodes|episodios)\b",
    re.IGNORECASE,
)
_COUNT_WORDS = frozenset(["cuantos", "cuantas", "many", "cantidad", "numero", "number"])
_STOP = SPANISH_STOPWORDS | ENGLISH_STOPWORDS


def asks_who_asked(question: str) -> bool:
    """ "Who asked…?": the one question whose answer is a question sentence."""
    return _WHO_ASKED.search(question) is not None


def asks_who_said(question: str) -> bool:
    """ "Who said/asked/read…?": the answer is the speaker of the sentence."""
    return _WHO_SAID.search(question) is not None


def credit_named(question: Question, candidates: Sequence[Candidate]) -> None:
    """For "who said…?", prefer sentences that can name who said them: a named speaker, or a
    name in the sentence itself when diarization left only a label ("This is Diane in New
    Jersey" names SPEAKER_00; "don't hear that New Jersey now" names no one)."""
    for candidate in candidates:
        if speaker_name(candidate.speaker) or other_names(question, candidate.text):
            candidate.score += NAMED_CREDIT


def restates(sentence: str) -> bool:
    """Whether a sentence refers back to an earlier episode ("the tipa trees planted on four
    blocks, from our first episode"): it restates an old figure, it is not a new one."""
    return _RESTATES.search(sentence) is not None


def asks_about_change(question: str) -> bool:
    """Whether the question is about change over time or across episodes ("¿ahora…?")."""
    return _CHANGE.search(question) is not None


def counted_thing(question: str) -> frozenset[str]:
    """The stems of what a "how many …?" question counts ("¿cuántos *sensores*…?"), or none."""
    tokens = tokenize(question)
    for i, token in enumerate(tokens[:-1]):
        if token in _COUNT_WORDS:
            # "how many tipa trees": the words before the verb name the thing counted.
            following = [t for t in tokens[i + 1 : i + 3] if t not in _STOP]
            return frozenset(w for t in following for w in analyze_both(t))
    return frozenset()


def supports(
    question: Question, candidate: Candidate, counted: frozenset[str] = frozenset()
) -> bool:
    """Whether ``candidate`` states what ``question`` asks (see the module docstring)."""
    if not counts(counted, candidate):
        return False
    # "Who…?" may be answered by a common noun ("the wizard who had vanished"): the kind check
    # for people only guards the weaker, names-only path below.
    if candidate.direct and focus_attested(question, candidate):
        if _about_someone_else(question, candidate):
            return False
        return question.kind == "person" or kind_attested(question, candidate)
    return (
        question.kind in ("person", "place")
        and kind_attested(question, candidate)
        and focus_attested(question, candidate, sentence_only=True)
    )


def _about_someone_else(question: Question, candidate: Candidate) -> bool:
    """The focus is only mentioned elsewhere in the speaker's turn, the sentence names someone
    (something) else, and it says nothing else the question asks about: its fact is theirs
    ("Tomás sold me a loaf. … His starter, Doña Rosa, is 30 years old." does not say how old
    Tomás is, but does say how old Tomás's starter is)."""
    close = replace(candidate, turn_terms=candidate.handover_terms)
    if focus_attested(question, close) or not other_names(question, candidate.text):
        return False
    return not any(
        group & candidate.terms
        for i, (group, word) in enumerate(zip(question.groups, question.words, strict=False))
        if i not in question.names and word not in AGE_WORDS
    )


def focus_attested(
    question: Question, candidate: Candidate, *, sentence_only: bool = False
) -> bool:
    """At least half of the question's names (and one) are attested near the sentence (or, with
    ``sentence_only``, in it)."""
    entities = _entities(question)
    if not entities:
        return not sentence_only
    evidence = candidate.terms
    if not sentence_only:
        evidence = evidence | candidate.turn_terms | candidate.speaker_terms
        evidence = evidence | candidate.title_terms
    heard = _heard(candidate.text)
    if not sentence_only:  # the episode's opening names its topics, as its title does
        heard = heard + _heard(candidate.intro)
    found = 0
    for entity in entities:
        seen = sum(
            1
            for i in entity
            if _attested(question.groups[i], evidence)
            or (i < len(question.words) and _sounds_in(question.words[i], heard))
        )
        found += seen >= max(1, len(entity) // 2)  # "Mercado de San Telmo" → "mercado … elmo"
    if question.relation:  # "How is X connected to Y?": a link needs both ends
        return found == len(entities)
    return found >= 1 and 2 * found >= len(entities)


def _entities(question: Question) -> list[tuple[int, ...]]:
    """The question's names grouped into entities ("Valeria Quiroga", "Mercado de San Telmo"
    are one entity each): as the question wrote them, else runs of neighbouring name words."""
    if question.entities:
        return list(question.entities)
    entities: list[tuple[int, ...]] = []
    previous = -2
    for i in sorted(question.names):
        if i == previous + 1 and entities:
            entities[-1] = (*entities[-1], i)
        else:
            entities.append((i,))
        previous = i
    return entities


@functools.lru_cache(maxsize=1024)
def _heard(text: str) -> tuple[str, ...]:
    """Sound keys of the sentence's words and of each two neighbouring words joined: ASR cuts
    unfamiliar names apart ("Avellaneda" heard as "bella nela")."""
    tokens = [t for t in tokenize(text) if not t.isdigit()]
    joined = [a + b for a, b in itertools.pairwise(tokens)]
    # A common word is no misheard name ("porque" sounds like "parque").
    words = [t for t in tokens if t not in _STOP]
    return tuple(phonetic(t) for t in (*words, *joined) if len(t) >= MIN_FUZZY_LENGTH)


def _sounds_in(word: str, heard: Sequence[str]) -> bool:
    """Whether a name word of the question sounds like a word (or two) of the sentence."""
    if len(word) < MIN_HEARD_LENGTH:  # short keys sound like too much ("sheila", "sequía")
        return False
    key = phonetic(word)
    return any(abs(len(h) - len(key)) <= 2 and fuzz.ratio(key, h) >= NAME_SIMILARITY for h in heard)


def _attested(group: frozenset[str], evidence: frozenset[str]) -> bool:
    if group & evidence:
        return True
    long = [g for g in group if len(g) >= MIN_FUZZY_LENGTH]
    return any(
        fuzz.ratio(g, e) >= NAME_SIMILARITY
        for g in long
        for e in evidence
        if len(e) >= MIN_FUZZY_LENGTH and abs(len(e) - len(g)) <= 2
    )
