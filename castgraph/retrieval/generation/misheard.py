"""Question words the transcript misspelled: "sustitución" heard as "substitución".

ASR spells by ear, and not only names. A content word of the question that no sentence of the
context contains is matched against the context's words by spelling (rapidfuzz ratio ≥
``SPELLING_SIMILARITY`` between folded words of ``MIN_LENGTH`` letters or more); the close
ones join its group, as translations do. Only absent words are matched: a word the context
does contain is not replaced by its look-alikes ("calientes" is not "clientes").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from rapidfuzz import fuzz

from castgraph.retrieval.generation.relevance import Candidate, Question
from castgraph.retrieval.keyword.analyzer import (
    ENGLISH_STOPWORDS,
    SPANISH_STOPWORDS,
    analyze_both,
    tokenize,
)

SPELLING_SIMILARITY = 85
MIN_LENGTH = 6
_STOP = SPANISH_STOPWORDS | ENGLISH_STOPWORDS


def hear_alike(question: Question, candidates: Sequence[Candidate]) -> Question:
    """``question`` with each absent content word's group widened by the context's words
    spelled like it."""
    absent = [
        i
        for i, word in enumerate(question.words)
        if i not in question.names
        and len(word) >= MIN_LENGTH
        and not any(question.groups[i] & c.terms for c in candidates)
    ]
    if not absent:
        return question
    vocabulary = {
        t for c in candidates for t in tokenize(c.text) if len(t) >= MIN_LENGTH and t not in _STOP
    }
    groups = list(question.groups)
    for i in absent:
        word = question.words[i]
        for heard in vocabulary:
            if abs(len(heard) - len(word)) <= 2 and fuzz.ratio(word, heard) >= SPELLING_SIMILARITY:
                groups[i] = groups[i] | frozenset(analyze_both(heard)) | {heard}
    return replace(question, groups=tuple(groups))
