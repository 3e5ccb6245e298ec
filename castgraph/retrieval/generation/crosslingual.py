"""Question words met in another language: "work" in "trabajo en el observatorio".

A Spanish answer to an English question shares names with it but hardly a word, so stems alone
find no support and the answerer abstains. With a multilingual embedder, single words embed
next to their translations (``heat``/``calor`` 0.88, ``trees``/``árboles`` 0.94, unrelated
pairs below 0.45 with the packaged encoder): each content word of the question takes the stems
of the words of other-language sentences whose vectors are within ``TRANSLATION_COSINE`` of
its own, and everything downstream (coverage, the support rule, counted things) reads the
expanded groups as if the sentence had used the question's word. Names are left alone: they
are spelled alike in both languages and matched by ear already.

Word vectors are cached (the vocabulary of a channel recurs across questions), so the cost is
a few milliseconds per new word.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from castgraph.core.errors import CastgraphError
from castgraph.core.text import fold
from castgraph.retrieval.embeddings.cached import TextVectors
from castgraph.retrieval.generation.relevance import Candidate, Question
from castgraph.retrieval.keyword.analyzer import (
    ENGLISH_STOPWORDS,
    SPANISH_STOPWORDS,
    analyze_both,
)

log = logging.getLogger(__name__)

TRANSLATION_COSINE = 0.7
"""Cosine at which a word of another language is taken as the question word's translation."""
SHORT_WORD_COSINE = 0.8
SHORT_WORD = 3
"""Words this short ("far", "old") embed near many unrelated words ("far" ~ "bien" 0.70): they
need a closer match ("now" ~ "ahora" 0.97)."""
MAX_WORDS = 200
"""Other-language words compared per question at most (those of the best blocks first)."""
MAX_RANK = 4
"""Blocks whose words are compared: the best retrieved (as for sentence embeddings)."""
MIN_LENGTH = 3
CACHE_SIZE = 20_000
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_STOP = SPANISH_STOPWORDS | ENGLISH_STOPWORDS


def translate(
    question: Question, candidates: Sequence[Candidate], vectors: TextVectors
) -> Question:
    """``question`` with each content word's group widened by its translations found in the
    other-language candidates (unchanged when there are none, or the embedder fails)."""
    asked = [i for i, w in enumerate(question.words) if i not in question.names and len(w) > 2]
    foreign = _foreign_words(candidates)
    if not asked or not foreign:
        return question
    try:
        similarity = vectors.matrix([question.words[i] for i in asked]) @ vectors.matrix(foreign).T
    except CastgraphError as exc:  # an optional refinement: degrade, do not fail
        log.warning("word embedding failed", extra={"error": str(exc)})
        return question
    groups = list(question.groups)
    for row, i in enumerate(asked):
        short = len(question.words[i]) <= SHORT_WORD
        needed = SHORT_WORD_COSINE if short else TRANSLATION_COSINE
        for column in np.flatnonzero(similarity[row] >= needed):
            word = fold(foreign[column])
            groups[i] = groups[i] | frozenset(analyze_both(word)) | {word}
    return replace(question, groups=tuple(groups))


def widen(stems: frozenset[str], before: Question, after: Question) -> frozenset[str]:
    """``stems`` (say, what a "how many" question counts) with the translations ``translate``
    gave the groups they come from."""
    found = [new for old, new in zip(before.groups, after.groups, strict=True) if old & stems]
    return stems.union(*found)


def _foreign_words(candidates: Sequence[Candidate]) -> list[str]:
    """Lower-cased content words of the other-language candidates, best blocks first."""
    words: dict[str, None] = {}
    for candidate in sorted(candidates, key=lambda c: c.rank):
        if not candidate.foreign or candidate.rank >= MAX_RANK:
            continue
        for word in _WORD.findall(candidate.text):
            lower = word.lower()
            if len(lower) >= MIN_LENGTH and fold(lower) not in _STOP:
                words[lower] = None
                if len(words) >= MAX_WORDS:
                    return list(words)
    return list(words)
