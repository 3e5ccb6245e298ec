"""Assignment of transcript words to diarization speakers, and speaker-turn segments.

Each word takes the speaker whose turns overlap it most (the nearest turn when none overlaps).
Segments are then rebuilt as speaker turns: consecutive words of one speaker form a segment,
which also ends at a long pause, and at a sentence end once it has grown long. Segments that
have no words (human captions) keep their text and timing and get a speaker by overlap as a
whole.

When there is no diarization (``None``, or one with no turns) the transcript is returned
unchanged, with speakers left ``None``: "unknown speaker" is more honest than inventing one.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np

from castgraph.core.models import Diarization, Segment, SpeakerTurn, Transcript, Word

__all__ = ["assign_speakers", "join_words", "speaker_at"]

MAX_PAUSE = 1.5
"""A silence longer than this between two words starts a new segment."""
LONG_SEGMENT = 30.0
"""Past this duration a segment ends at the next sentence end."""
MAX_SEGMENT = 60.0
"""Past this duration a segment ends at the next word, sentence end or not."""

_SENTENCE_END = (".", "?", "!", "…", "。", "？", "！")
_CLOSING = set(".,;:!?…%)]}»”’\"'。，、？！")
_OPENING = set("¿¡([{«“‘")


class _TurnIndex:
    """Turns sorted by start, for overlap and nearest-turn queries."""

    def __init__(self, turns: Iterable[SpeakerTurn]) -> None:
        self.turns = sorted((t for t in turns if t.end >= t.start), key=lambda t: t.start)
        self.starts = [t.start for t in self.turns]
        ends = np.array([t.end for t in self.turns], dtype=np.float64)
        self.max_end = np.maximum.accumulate(ends) if len(ends) else ends
        self.first: dict[str, float] = {}
        for turn in self.turns:
            self.first.setdefault(turn.speaker, turn.start)

    def speaker(self, start: float, end: float) -> str | None:
        """The speaker overlapping [start, end] most, else the nearest one."""
        if not self.turns:
            return None
        end = max(end, start + 1e-3)
        hi = bisect.bisect_left(self.starts, end)
        overlap: dict[str, float] = {}
        j = hi - 1
        while j >= 0 and self.max_end[j] > start:
            turn = self.turns[j]
            amount = min(end, turn.end) - max(start, turn.start)
            if amount > 0:
                overlap[turn.speaker] = overlap.get(turn.speaker, 0.0) + amount
            j -= 1
        if overlap:
            return max(overlap.items(), key=lambda item: (item[1], -self.first[item[0]]))[0]
        return self._nearest(start, end, hi)

    def _nearest(self, start: float, end: float, hi: int) -> str:
        """The turn ending last before ``start`` or the one starting first after ``end``."""
        before: SpeakerTurn | None = None
        if hi > 0:
            last = int(np.argmax(self.max_end[:hi]))
            before = self.turns[last]
        after = self.turns[hi] if hi < len(self.turns) else None
        if after is None or (before is not None and start - before.end <= after.start - end):
            assert before is not None
            return before.speaker
        return after.speaker


def speaker_at(diarization: Diarization, start: float, end: float) -> str | None:
    """The speaker of the span [start, end] (largest overlap, else nearest turn)."""
    return _TurnIndex(diarization.turns).speaker(start, end)


def join_words(words: Sequence[str]) -> str:
    """Join stripped word texts with spaces, none before closing or after opening punctuation."""
    text = ""
    glue = False
    for raw in words:
        word = raw.strip()
        if not word:
            continue
        punct_only = all(not ch.isalnum() for ch in word)
        closing = punct_only and word[0] in _CLOSING
        if text and not glue and not closing:
            text += " "
        text += word
        glue = punct_only and word[-1] in _OPENING
    return text


def _ends_sentence(word: Word) -> bool:
    return word.text.strip().rstrip("\"'”’»)").endswith(_SENTENCE_END)


def _segment(words: list[Word]) -> Segment:
    return Segment(
        start=words[0].start,
        end=max(w.end for w in words),
        text=join_words([w.text for w in words]),
        speaker=words[0].speaker,
        words=tuple(words),
    )


def _split(words: list[Word]) -> list[Segment]:
    """Group consecutive words into speaker-turn segments."""
    segments: list[Segment] = []
    current: list[Word] = []
    for word in words:
        if current:
            length = current[-1].end - current[0].start
            pause = word.start - max(w.end for w in current)
            if (
                word.speaker != current[0].speaker
                or pause > MAX_PAUSE
                or (length > LONG_SEGMENT and _ends_sentence(current[-1]))
                or length > MAX_SEGMENT
            ):
                segments.append(_segment(current))
                current = []
        current.append(word)
    if current:
        segments.append(_segment(current))
    return segments


def assign_speakers(transcript: Transcript, diarization: Diarization | None) -> Transcript:
    """Give every word (or wordless segment) a speaker and rebuild segments as speaker turns."""
    if diarization is None or not diarization.turns:
        return transcript
    index = _TurnIndex(diarization.turns)
    segments: list[Segment] = []
    pending: list[Word] = []
    for segment in transcript.segments:
        if not segment.words:
            segments.extend(_split(pending))
            pending = []
            speaker = index.speaker(segment.start, segment.end)
            segments.append(dataclasses.replace(segment, speaker=speaker))
            continue
        for word in segment.words:
            speaker = index.speaker(word.start, word.end)
            pending.append(dataclasses.replace(word, text=word.text.strip(), speaker=speaker))
    segments.extend(_split(pending))
    return dataclasses.replace(transcript, segments=tuple(segments))
