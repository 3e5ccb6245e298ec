"""Whether a sentence states what a question asks: the rule behind answering honestly.

Retrieval always returns *something*; a sentence about the right person with the wrong kind of
fact ("La Espiga is two blocks from the park" for "how many people work at La Espiga?") is a
near miss, not an answer. A sentence supports an answer only when, together in the sentence or
its speaker's turn:

- the question's **focus entities** (its names: people, places, organisations) are attested — in
  the sentence, the speaker's turn, the speaker's own name, the question put to them just
  before, or the episode title (an episode about Barracas is about Barracas throughout);
- the **kind of fact** asked for is in the quoted sentence itself: a number for "how many", a
  number or month for "when"/"what year", a name for "who"/"where" (for "who said…", the named
  speaker of the sentence is that name);
- and the sentence says something about what is asked beyond the names (``direct``), unless
  the names and the asked kind of fact stand in the sentence itself ("Our guest is Hannah,
  from the Delta Lab" answers "where does Hannah work?").

Everything else makes the answerer abstain, in the question's language.
"""

from __future__ import annotations

import re

from castgraph.retrieval.generation.candidates import speaker_name
from castgraph.retrieval.generation.relevance import (
    Candidate,
    Question,
    has_kind,
    number_values,
)
from castgraph.retrieval.keyword.analyzer import tokenize

_WHO_ASKED = re.compile(r"\b(?:qui[eé]n(?:es)?\s+pregunt|who\s+(?:asked|asks))", re.IGNORECASE)
_CHANGE = re.compile(
    r"\b(?:ahora|actualmente|hoy|todav[ií]a|sigue|siguen|cambi\w*|[uú]ltim\w*|nuev\w*|"
    r"reciente\w*|evolu\w*|antes|despu[eé]s|now|currently|today|still|chang\w*|latest|newest|"
    r"recent\w*|updat\w*|anymore|before|after|over\s+time|episodes|episodios)\b",
    re.IGNORECASE,
)


def asks_who_asked(question: str) -> bool:
    """ "Who asked…?": the one question whose answer is a question sentence."""
    return _WHO_ASKED.search(question) is not None


def asks_about_change(question: str) -> bool:
    """Whether the question is about change over time or across episodes ("¿ahora…?")."""
    return _CHANGE.search(question) is not None


def supports(question: Question, candidate: Candidate) -> bool:
    """Whether ``candidate`` states what ``question`` asks (see the module docstring)."""
    if not kind_attested(question.kind, candidate):
        return False
    if candidate.direct and focus_attested(question, candidate):
        return True
    # "Where does Hannah work?" — "Our guest is Hannah, from the Delta Lab.": the entity and a
    # fact of the asked kind in one sentence answer it even without the question's verb.
    return bool(question.kind) and focus_attested(question, candidate, sentence_only=True)


def focus_attested(
    question: Question, candidate: Candidate, *, sentence_only: bool = False
) -> bool:
    """At least half of the question's names (and one) are attested near the sentence (or, with
    ``sentence_only``, in it)."""
    names = [question.groups[i] for i in question.names]
    if not names:
        return not sentence_only
    evidence = (
        candidate.terms
        if sentence_only
        else candidate.terms
        | candidate.turn_terms
        | candidate.speaker_terms
        | candidate.title_terms
    )
    found = sum(1 for group in names if group & evidence)
    return found >= 1 and 2 * found >= len(names)


def kind_attested(kind: str, candidate: Candidate) -> bool:
    """The sentence itself holds the kind of fact asked for (any, when the kind is open)."""
    if not kind:
        return True
    if kind == "person" and speaker_name(candidate.speaker):
        return True  # "who said…?": the named speaker is the answer
    tokens = tokenize(candidate.text)
    return has_kind(kind, candidate.text, tokens, number_values(tokens))
