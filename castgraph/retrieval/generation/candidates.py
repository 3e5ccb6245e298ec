"""The sentences an extractive answer can quote: every sentence of every context block, each with
its own second and speaker.

A block carries its chunks' sentences (times from word timings, the speaker of that sentence);
a sentence too long to quote is cut into pieces timed by their share of it. Blocks stored before
sentences existed fall back to splitting the block text, timed by position and attributed to the
block's speaker until a question changes the turn.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from castgraph.core.language import detect_language
from castgraph.core.models import ContextBlock, Sentence
from castgraph.retrieval.generation.relevance import Candidate, is_question
from castgraph.retrieval.generation.sentences import clean, split_sentences
from castgraph.retrieval.keyword.analyzer import analyze, analyze_both

INTRO_SECONDS = 30.0
"""The opening of an episode (host's welcome, who is here, what about): a spoken title."""
MAX_CANDIDATES = 400
"""Sentences scored per request at most (a guard against a huge merged block)."""
_LABEL = re.compile(r"^(?:speaker|spk|hablante|locutor)?[ _-]?\d+$|^[A-Z]+_\d+$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _Piece:
    text: str
    seconds: float
    speaker: str | None
    known: bool
    """Whether ``speaker`` is known to have said it (always, with stored sentences)."""


def speaker_name(speaker: str | None) -> str | None:
    """A real name, or None for a missing speaker or a diarization label."""
    if not speaker:
        return None
    name = clean(speaker)
    return name if name and not _LABEL.match(name) else None


def build_candidates(
    blocks: Sequence[ContextBlock], default_language: str, *, topics: bool = False
) -> list[Candidate]:
    """Every quotable sentence of ``blocks``, analysed in its block's language; with
    ``topics`` (a question across episodes), each knows its episode's opening lines."""
    candidates: list[Candidate] = []
    pieced = [_pieces(block) for block in blocks]
    intros = _intros(blocks, pieced) if topics else {}
    for rank, (block, pieces) in enumerate(zip(blocks, pieced, strict=True)):
        if not pieces:
            continue
        language = detect_language(" ".join(p.text for p in pieces), default=default_language)
        title = frozenset(analyze(block.citation.title, language))
        terms = [frozenset(analyze(p.text, language)) for p in pieces]
        offset = 0
        for i, piece in enumerate(pieces):
            name = speaker_name(piece.speaker) if piece.known else None
            turn, handover = _turn_terms(pieces, terms, i)
            candidates.append(
                Candidate(
                    rank=rank,
                    start=offset,
                    end=offset + len(piece.text),
                    position=i / len(pieces),
                    text=piece.text,
                    terms=terms[i],
                    nearby_terms=frozenset().union(*terms[max(0, i - 2) : i]),
                    speaker_terms=frozenset(analyze_both(name)) if name else frozenset(),
                    title_terms=title,
                    speaker_known=piece.known,
                    seconds=piece.seconds,
                    speaker=piece.speaker if piece.known else None,
                    turn_terms=turn,
                    handover_terms=handover,
                    foreign=language != default_language,
                    intro=intros.get(block.citation.episode_id, ""),
                )
            )
            offset += len(piece.text) + 1
            if len(candidates) >= MAX_CANDIDATES:
                return candidates
    return candidates


def _intros(blocks: Sequence[ContextBlock], pieced: Sequence[list[_Piece]]) -> dict[str, str]:
    """Per episode, the text of its opening seconds found among the blocks: a later episode that
    reopens a topic says so there ("Today we go back to the tipa trees of Barracas…"), so for
    a question about change across episodes a name said there is the episode's topic
    throughout. Only then: for other questions, a name in the opening (the guest's, say) would
    vouch for any sentence of the episode."""
    found: dict[str, list[str]] = {}
    for block, pieces in zip(blocks, pieced, strict=True):
        opening = [p.text for p in pieces if p.seconds < INTRO_SECONDS]
        if opening:
            found.setdefault(block.citation.episode_id, []).extend(opening)
    return {episode: " ".join(dict.fromkeys(texts)) for episode, texts in found.items()}


def _pieces(block: ContextBlock) -> list[_Piece]:
    c = block.citation
    if c.sentences:
        return [p for s in c.sentences for p in _split(s)]
    # Legacy blocks: one speaker named for the block; after a question another one talks.
    text = clean(c.text)
    pieces: list[_Piece] = []
    after_question = False
    for span in split_sentences(text):
        sentence = text[span.start : span.end]
        seconds = c.start + span.start / max(1, len(text)) * max(0.0, c.end - c.start)
        pieces.append(_Piece(sentence, seconds, c.speaker, not after_question))
        after_question = after_question or is_question(sentence)
    return pieces


def _split(sentence: Sentence) -> list[_Piece]:
    text = clean(sentence.text)
    if not text:
        return []
    duration = max(0.0, sentence.end - sentence.start)
    return [
        _Piece(
            text[span.start : span.end],
            sentence.start + span.start / len(text) * duration,
            sentence.speaker,
            True,
        )
        for span in split_sentences(text)
    ]


def _turn_terms(
    pieces: Sequence[_Piece], terms: Sequence[frozenset[str]], i: int
) -> tuple[frozenset[str], frozenset[str]]:
    """Terms of sentence ``i``'s turn (the contiguous sentences by the same speaker, and the
    other speaker's line that handed the turn over), and of that line alone ("Tomás,
    contanos…", "Hoy me acompaña Tomás Iriarte."), which says whom the turn is about."""
    if not pieces[i].known:
        return terms[i], frozenset()
    lo = i
    while lo > 0 and pieces[lo - 1].known and pieces[lo - 1].speaker == pieces[i].speaker:
        lo -= 1
    handover: frozenset[str] = frozenset()
    if lo > 0 and pieces[lo - 1].known:
        lo -= 1
        handover = terms[lo]
    hi = i
    while hi + 1 < len(pieces) and pieces[hi + 1].speaker == pieces[i].speaker:
        hi += 1
    return frozenset().union(*terms[lo : hi + 1]), handover
