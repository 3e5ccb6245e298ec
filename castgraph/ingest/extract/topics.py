"""Topic candidates: frequent content n-grams of an episode, without a POS tagger.

An n-gram (1 to 3 words) is a candidate when its first and last words are content words (not
stop words, three letters or more) and it does not cross punctuation or a proper noun; a
three-word n-gram may have "de"/"del"/"of" in the middle ("isla de calor"). Multi-word n-grams
need ``min_count`` occurrences in the episode, single words one more. A shorter n-gram mostly
seen inside a longer one ("madre" inside "masa madre") gives way to it. The best ``top_n``
by count, weighted up for length, become topics.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from castgraph.ingest.extract.candidates import Token
from castgraph.ingest.extract.lexicon import TOPIC_STOPWORDS

__all__ = ["Topic", "find_topics"]

_INNER = frozenset({"de", "del", "of"})
_MIN_LETTERS = 3
_SUBSUMED = 0.6
_LENGTH_BONUS = 0.5


@dataclass(frozen=True, slots=True)
class Topic:
    """A topic with its display form and the chunks (by index) it occurs in."""

    key: str
    name: str
    count: int
    chunks: tuple[int, ...]


def find_topics(
    chunks: Sequence[Sequence[Token]],
    covered: Sequence[Collection[int]],
    *,
    repeated: Sequence[int] | None = None,
    top_n: int = 15,
    min_count: int = 2,
) -> list[Topic]:
    """The episode's topics; ``covered[i]`` holds the indexes of chunk i's proper-noun tokens.

    The first ``repeated[i]`` tokens of chunk i repeat the end of chunk i-1 (chunk overlap):
    they give provenance but are not counted twice.
    """
    counts: Counter[str] = Counter()
    surfaces: dict[str, Counter[str]] = {}
    where: dict[str, dict[int, None]] = {}
    for ci, tokens in enumerate(chunks):
        skip = repeated[ci] if repeated else 0
        counted_from = tokens[skip].start if skip < len(tokens) else None
        for segment in _segments(tokens, covered[ci]):
            for key, surface, start in _ngrams(segment):
                where.setdefault(key, {})[ci] = None
                if counted_from is not None and start >= counted_from:
                    counts[key] += 1
                    surfaces.setdefault(key, Counter())[surface] += 1
    keys = _select(counts, min_count)
    ranked = sorted(keys, key=lambda k: (-_score(k, counts[k]), k))[:top_n]
    return [Topic(k, _name(surfaces[k]), counts[k], tuple(sorted(where[k]))) for k in ranked]


def _segments(tokens: Sequence[Token], covered: Collection[int]) -> list[list[Token]]:
    """Stretches of plain words: cut at punctuation, numbers and proper nouns."""
    segments: list[list[Token]] = [[]]
    for i, tok in enumerate(tokens):
        if tok.gap or i in covered or not tok.text.isalpha():
            segments.append([])
        if i not in covered and tok.text.isalpha():
            segments[-1].append(tok)
    return [s for s in segments if s]


def _content(tok: Token) -> bool:
    return len(tok.key) >= _MIN_LETTERS and tok.key not in TOPIC_STOPWORDS


def _ngrams(segment: Sequence[Token]) -> list[tuple[str, str, int]]:
    """(key, surface, start character) of the segment's candidate n-grams."""
    grams: list[tuple[str, str, int]] = []
    content = [_content(t) for t in segment]
    for i in range(len(segment)):
        if not content[i]:
            continue
        for n in (1, 2, 3):
            j = i + n
            if j > len(segment) or not content[j - 1]:
                continue
            if n == 3 and not (content[i + 1] or segment[i + 1].key in _INNER):
                continue
            words = segment[i:j]
            key = " ".join(t.key for t in words)
            grams.append((key, " ".join(t.text.lower() for t in words), words[0].start))
    return grams


def _select(counts: Counter[str], min_count: int) -> list[str]:
    keys = [k for k, c in counts.items() if c >= (min_count if " " in k else min_count + 1)]
    within: dict[str, int] = {}
    for other in (k for k in keys if " " in k):
        words = other.split()
        for i in range(len(words)):
            for j in range(i + 1, len(words) + 1):
                if j - i < len(words):
                    sub = " ".join(words[i:j])
                    within[sub] = max(within.get(sub, 0), counts[other])
    return [k for k in keys if within.get(k, 0) < _SUBSUMED * counts[k]]


def _score(key: str, count: int) -> float:
    return count * (1 + _LENGTH_BONUS * key.count(" "))


def _name(surfaces: Counter[str]) -> str:
    return min(surfaces, key=lambda s: (-surfaces[s], s))
