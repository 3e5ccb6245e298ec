"""Speaker-turn and time aware chunking of a transcript into retrievable moments.

Tokens are counted with a simple word/punctuation split (``count_tokens``), which tracks the
sub-word counts of the embedding models closely enough to bound chunks without loading a
tokenizer. Chunks are packed from sentences; a sentence longer than the bound is cut at word
boundaries, so a word is never split. A new chunk starts at a change of speaker once the current
one holds at least half the bound, so most chunks belong to one speaker. Consecutive chunks share
up to ``overlap`` tokens of whole sentences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from castgraph.core.models import Chunk, Episode, Sentence, Transcript, Word, chunk_id

_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_SENTENCE_END = (".", "?", "!", "…")


def count_tokens(text: str) -> int:
    """An estimate of model tokens: words and punctuation marks."""
    return len(_TOKEN.findall(text))


@dataclass(frozen=True, slots=True)
class ChunkingOptions:
    """Bounds of a chunk, in ``count_tokens`` units."""

    max_tokens: int = 128
    overlap: int = 24

    def __post_init__(self) -> None:
        if self.max_tokens < 8:
            raise ValueError("max_tokens must be at least 8")
        if not 0 <= self.overlap < self.max_tokens // 2:
            raise ValueError("overlap must be between 0 and half of max_tokens")


@dataclass(frozen=True, slots=True)
class _Unit:
    """A sentence (or a piece of one) spoken by one speaker."""

    words: tuple[Word, ...]
    speaker: str | None
    tokens: int


def chunk_transcript(
    episode: Episode, transcript: Transcript, options: ChunkingOptions | None = None
) -> list[Chunk]:
    """Cut ``transcript`` into chunks carrying the episode's metadata, in time order."""
    options = options or ChunkingOptions()
    units = _units(transcript, options.max_tokens)
    chunks: list[Chunk] = []
    for group in _pack(units, options):
        chunks.append(_chunk(episode, transcript.language, len(chunks), group))
    return chunks


def _words_of(transcript: Transcript) -> list[Word]:
    words: list[Word] = []
    for seg in transcript.segments:
        if seg.words:
            words.extend(w if w.speaker else _with_speaker(w, seg.speaker) for w in seg.words)
        elif seg.text.strip():
            words.extend(_spread(seg.text, seg.start, seg.end, seg.speaker))
    return [w for w in words if w.text.strip()]


def _with_speaker(word: Word, speaker: str | None) -> Word:
    return Word(word.text, word.start, word.end, word.probability, speaker)


def _spread(text: str, start: float, end: float, speaker: str | None) -> list[Word]:
    """Words of a segment without word timings (captions), timed by even spacing."""
    parts = text.split()
    step = max(end - start, 0.0) / len(parts)
    return [
        Word(p, start + i * step, start + (i + 1) * step, 1.0, speaker) for i, p in enumerate(parts)
    ]


def _units(transcript: Transcript, max_tokens: int) -> list[_Unit]:
    units: list[_Unit] = []
    current: list[Word] = []
    tokens = 0
    for word in _words_of(transcript):
        n = count_tokens(word.text)
        speaker_changed = bool(current) and word.speaker != current[-1].speaker
        if current and (speaker_changed or tokens + n > max_tokens):
            units.append(_Unit(tuple(current), current[0].speaker, tokens))
            current, tokens = [], 0
        current.append(word)
        tokens += n
        if word.text.strip().endswith(_SENTENCE_END):
            units.append(_Unit(tuple(current), word.speaker, tokens))
            current, tokens = [], 0
    if current:
        units.append(_Unit(tuple(current), current[0].speaker, tokens))
    return units


def _pack(units: list[_Unit], options: ChunkingOptions) -> list[list[_Unit]]:
    groups: list[list[_Unit]] = []
    current: list[_Unit] = []
    tokens = 0
    fresh = 0  # units in ``current`` that are not overlap from the previous chunk
    for unit in units:
        speaker_turn = bool(current) and unit.speaker != current[-1].speaker
        full = tokens + unit.tokens > options.max_tokens
        if fresh and (full or (speaker_turn and tokens >= options.max_tokens // 2)):
            groups.append(current)
            current = _overlap(current, options.overlap) if not speaker_turn else []
            tokens, fresh = sum(u.tokens for u in current), 0
        while not fresh and current and tokens + unit.tokens > options.max_tokens:
            tokens -= current.pop(0).tokens  # overlap gives way to a long next sentence
        current.append(unit)
        tokens += unit.tokens
        fresh += 1
    if fresh:
        groups.append(current)
    return _merge_short_tail(groups, options.max_tokens)


def _merge_short_tail(groups: list[list[_Unit]], max_tokens: int) -> list[list[_Unit]]:
    """A closing line ("Gracias, hasta la próxima") joins the chunk before it when it fits."""
    if len(groups) < 2:
        return groups
    last, before = groups[-1], groups[-2]
    new = [u for u in last if not any(u is b for b in before)]
    tokens = sum(u.tokens for u in before) + sum(u.tokens for u in new)
    if sum(u.tokens for u in new) < max_tokens // 4 and tokens <= max_tokens:
        return [*groups[:-2], before + new]
    return groups


def _overlap(units: list[_Unit], budget: int) -> list[_Unit]:
    """The trailing whole units of a chunk that fit in ``budget`` tokens (never all of them)."""
    kept: list[_Unit] = []
    used = 0
    for unit in reversed(units[1:]):
        if used + unit.tokens > budget:
            break
        kept.insert(0, unit)
        used += unit.tokens
    return kept


def _chunk(episode: Episode, language: str, ordinal: int, units: list[_Unit]) -> Chunk:
    words = [w for u in units for w in u.words]
    spoken: dict[str, int] = {}
    for unit in units:
        if unit.speaker:
            spoken[unit.speaker] = spoken.get(unit.speaker, 0) + unit.tokens
    # The one who says most comes first: a citation names them (ties keep order of appearance).
    speakers = sorted(spoken, key=lambda name: -spoken[name])
    return Chunk(
        id=chunk_id(episode.id, ordinal),
        episode_id=episode.id,
        ordinal=ordinal,
        start=round(min(w.start for w in words), 3),
        end=round(max(w.end for w in words), 3),
        text=" ".join(w.text.strip() for w in words),
        speakers=tuple(speakers),
        language=language,
        title=episode.title,
        url=episode.url,
        published=episode.published,
        sentences=tuple(_sentence(u) for u in units),
    )


def _sentence(unit: _Unit) -> Sentence:
    """A unit as a sentence: its own times from its words, its own speaker."""
    return Sentence(
        text=" ".join(w.text.strip() for w in unit.words),
        start=round(unit.words[0].start, 3),
        end=round(max(w.end for w in unit.words), 3),
        speaker=unit.speaker,
    )
