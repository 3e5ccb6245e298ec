"""Speaker names: who each diarization label is, from what the episode and its metadata say.

``identify_speakers`` reads a transcript whose segments carry speaker labels and returns at most
one guess per label (a name given to one label only), each with its confidence and the sentence
that supports it. Guesses under ``core.models.NAME_CONFIDENCE_THRESHOLD`` are suggestions: the
catalog stores them but does not show them as the speaker's name. ``metadata_names`` and
``whisper_hints`` turn titles, descriptions and known voices into names Whisper should spell
right and that heard names are matched against.
"""

from __future__ import annotations

from collections.abc import Sequence

from castgraph.core.models import SpeakerGuess, Transcript
from castgraph.ingest.speakers.assign import assign
from castgraph.ingest.speakers.cues import find_evidence, turns_of
from castgraph.ingest.speakers.names import NameBook, metadata_names, whisper_hints

__all__ = ["identify_speakers", "metadata_names", "whisper_hints"]


def identify_speakers(transcript: Transcript, known: Sequence[str] = ()) -> list[SpeakerGuess]:
    """Guess each speaker label's name; ``known`` are names spelled right (metadata, voices)."""
    turns = turns_of(transcript)
    if len({t.speaker for t in turns}) == 0:
        return []
    book = NameBook(known)
    return assign(find_evidence(turns, book), book)
