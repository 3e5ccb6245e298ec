"""Cited moments: each ``[n]`` of an answer resolved to the sentence(s) of block n it rests on.

A context block spans merged chunks (often a minute or more); a reader wants the second the
claim was said and who said it. For every marker, the *claim* is the answer text that carries it
(from the end of the previous sentence or marker up to the marker). Resolution, in order:

1. **quote** — a quoted span of the claim (“…”, «…», "…") found verbatim, word for word after
   folding case, accents and punctuation, in the block's sentences: the moment is the sentences
   the quote covers;
2. **paraphrase** — otherwise the sentence whose words (stemmed, both languages) and, with an
   embedder, meaning best match the claim, when the match is strong enough; the next sentence
   joins it when it is by the same speaker and matches nearly as well;
3. **block** — otherwise the whole block, marked as such: never a wrong second.

A number cited several times keeps its best-supported moment (quote over paraphrase over block).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from castgraph.core.models import ContextBlock, Sentence, Span
from castgraph.core.timefmt import moment_link
from castgraph.retrieval.generation.citations import MARKER
from castgraph.retrieval.generation.extractive import QueryEmbedder
from castgraph.retrieval.keyword.analyzer import analyze_both, tokenize

Similarity = Callable[[str, Sequence[str]], list[float]]
"""Cosine of a claim with each of some sentences (an embedder), or absent."""

MIN_QUOTE_WORDS = 3
PARAPHRASE_OVERLAP = 0.34
"""Share of a sentence's content words the claim must hold (or of the claim's in it)."""
PARAPHRASE_COSINE = 0.5
JOIN_RATIO = 0.8
_QUOTED = re.compile(r"“([^”]+)”|«([^»]+)»|\"([^\"]+)\"")
_BOUNDARY = re.compile(r"(?<=[.!?…])\s+(?=[^\s\"“«])")
_TOKEN = re.compile(r"\w+", re.UNICODE)
_RANK = {"quote": 3, "paraphrase": 2, "block": 1}


@dataclass(frozen=True, slots=True)
class Resolution:
    """The sentences of a block a claim rests on (indexes into its sentences) and how found."""

    kind: str
    first: int = 0
    last: int = -1
    score: float = 0.0


def claims(answer: str) -> list[tuple[int, str]]:
    """(number, claim text) for every citation marker of ``answer``, in order."""
    found: list[tuple[int, str]] = []
    start = 0
    claim = ""
    for match in MARKER.finditer(answer):
        before = answer[start : match.start()]
        if _TOKEN.search(before):  # "[2][1]": the second marker cites the same claim
            pieces = _BOUNDARY.split(before.strip())
            # A marker closes the sentence it follows; text before that sentence is another.
            long_enough = pieces and len(pieces[-1].split()) >= MIN_QUOTE_WORDS
            claim = pieces[-1] if long_enough else before
        for part in re.split(r"[,;]", match.group(1)):
            found.append((int(part), claim.strip()))
        start = match.end()
    return found


def resolve_moments(
    answer: str, blocks: Sequence[ContextBlock], similarity: Similarity | None = None
) -> list[ContextBlock]:
    """The cited moments of ``answer``, one per cited block number, in order of first citation.

    Invented numbers (no such block) are dropped.
    """
    by_number = {b.number: b for b in blocks}
    best: dict[int, Resolution] = {}
    for number, claim in claims(answer):
        block = by_number.get(number)
        if block is None:
            continue
        found = resolve_claim(claim, block.citation.sentences, similarity)
        known = best.get(number)
        if known is None or (_RANK[found.kind], found.score) > (_RANK[known.kind], known.score):
            best[number] = found
    return [moment(by_number[n], r) for n, r in best.items()]


def resolve_claim(
    claim: str, sentences: Sequence[Sentence], similarity: Similarity | None = None
) -> Resolution:
    """Which of ``sentences`` support ``claim`` (see the module docstring)."""
    if not sentences:
        return Resolution("block")
    for quoted in _quotes(claim):
        span = _find_quote(quoted, sentences)
        if span is not None:
            return Resolution("quote", span[0], span[1], 1.0)
    return _paraphrase(claim, sentences, similarity)


def moment(block: ContextBlock, resolution: Resolution) -> ContextBlock:
    """The cited source: the resolved sentences with their own times, speaker and link."""
    c = block.citation
    context = Span(c.start, c.end, c.text)
    if resolution.kind == "block" or not c.sentences:
        return ContextBlock(block.number, replace(c, kind="block", context=context))
    chosen = c.sentences[resolution.first : resolution.last + 1]
    return ContextBlock(
        block.number,
        replace(
            c,
            link=moment_link(c.url, chosen[0].start, c.episode_id),
            speaker=chosen[0].speaker,
            start=chosen[0].start,
            end=chosen[-1].end,
            text=" ".join(s.text for s in chosen),
            sentences=tuple(chosen),
            kind="quote" if resolution.kind == "quote" else "paraphrase",
            context=context,
        ),
    )


def embedding_similarity(embedder: QueryEmbedder) -> Similarity:
    """Cosines from an embedder (its vectors are L2-normalised, so the dot product is it)."""

    def similarity(claim: str, texts: Sequence[str]) -> list[float]:
        query = embedder.embed_query(claim)
        return [sum(a * b for a, b in zip(query, v, strict=False)) for v in embedder.embed(texts)]

    return similarity


def _quotes(claim: str) -> list[str]:
    quoted = [next(g for g in m.groups() if g is not None) for m in _QUOTED.finditer(claim)]
    return [q for q in quoted if len(tokenize(q)) >= MIN_QUOTE_WORDS]


def _find_quote(quoted: str, sentences: Sequence[Sentence]) -> tuple[int, int] | None:
    """The first and last sentence a quote covers; a quote cut with "…" matches its words."""
    words = tokenize(quoted.rstrip("…. "))
    owners: list[int] = []
    flat: list[str] = []
    for i, sentence in enumerate(sentences):
        for word in tokenize(sentence.text):
            flat.append(word)
            owners.append(i)
    n = len(words)
    for at in range(len(flat) - n + 1):
        if flat[at : at + n] == words:
            return owners[at], owners[at + n - 1]
    return None


def _paraphrase(
    claim: str, sentences: Sequence[Sentence], similarity: Similarity | None
) -> Resolution:
    claim_terms = _terms(claim)
    overlaps = [_overlap(claim_terms, _terms(s.text)) for s in sentences]
    cosines = similarity(claim, [s.text for s in sentences]) if similarity else None
    scores = [o + (0.5 * max(0.0, cosines[i]) if cosines else 0.0) for i, o in enumerate(overlaps)]
    best = max(range(len(sentences)), key=lambda i: scores[i])
    strong = overlaps[best] >= PARAPHRASE_OVERLAP or (
        cosines is not None and cosines[best] >= PARAPHRASE_COSINE
    )
    if not strong:
        return Resolution("block")
    last = best
    following = best + 1
    if (
        following < len(sentences)
        and sentences[following].speaker == sentences[best].speaker
        and scores[following] >= JOIN_RATIO * scores[best]
    ):
        last = following
    return Resolution("paraphrase", best, last, scores[best])


def _terms(text: str) -> frozenset[str]:
    return frozenset(analyze_both(text))


def _overlap(claim: frozenset[str], sentence: frozenset[str]) -> float:
    """How much of the sentence the claim says, or of the claim the sentence says (the larger)."""
    if not claim or not sentence:
        return 0.0
    shared = len(claim & sentence)
    if shared < 2:  # one shared word is a coincidence, not support
        return 0.0
    return max(shared / len(sentence), shared / len(claim))
