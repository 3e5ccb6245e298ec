"""The speakers of an episode: display names, identified-name guesses and the voice registry.

A speaker's display name is its confirmed name (a rename, or a voice a person named), else its
guess when at least ``NAME_CONFIDENCE_THRESHOLD`` confident, else its label. Every place that
names a label (transcripts, chunks, episode lists) goes through :func:`names_of`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from castgraph.catalog.schema import EpisodeRow, SpeakerRow, VoiceRow
from castgraph.core.models import NAME_CONFIDENCE_THRESHOLD, SpeakerGuess, SpeakerInfo
from castgraph.core.text import entity_key

log = logging.getLogger(__name__)

VOICE_GUESS_FACTOR = 0.9
"""A guessed voice's name is as sure as the voices' similarity, a little less."""


def display_name(sp: SpeakerRow) -> str:
    """The name to show for a speaker: confirmed, else a confident guess, else the label."""
    if sp.name:
        return sp.name
    if sp.guess_name and (sp.guess_confidence or 0.0) >= NAME_CONFIDENCE_THRESHOLD:
        return sp.guess_name
    return sp.label


def names_of(row: EpisodeRow) -> dict[str, str]:
    """``{label: display name}`` for the episode's speakers."""
    return {sp.label: display_name(sp) for sp in row.speakers}


def guess_of(sp: SpeakerRow) -> SpeakerGuess | None:
    if not sp.guess_name:
        return None
    evidence = sp.guess_evidence or {}
    return SpeakerGuess(
        label=sp.label,
        name=sp.guess_name,
        confidence=float(sp.guess_confidence or 0.0),
        start=_float_or_none(evidence.get("start")),
        end=_float_or_none(evidence.get("end")),
        text=str(evidence.get("text") or ""),
    )


def speaker_info(sp: SpeakerRow) -> SpeakerInfo:
    return SpeakerInfo(
        label=sp.label, name=display_name(sp), confirmed=bool(sp.name), guess=guess_of(sp)
    )


def _float_or_none(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def match_voice(
    voices: Sequence[VoiceRow], emb: Sequence[float], threshold: float
) -> tuple[VoiceRow, float] | None:
    """The most similar voice at least ``threshold`` similar; one a person named beats any
    guessed one, so a guess never overrides a rename."""
    for confirmed in (True, False):
        best: tuple[VoiceRow, float] | None = None
        for voice in voices:
            if bool(voice.guessed) == confirmed:
                continue
            score = cosine(voice.embedding, emb)
            if score >= threshold and (best is None or score > best[1]):
                best = (voice, score)
        if best is not None:
            log.info(
                "voice matched", extra={"voice": best[0].name, "similarity": round(best[1], 3)}
            )
            return best
    return None


def new_speaker(
    label: str, emb: Sequence[float] | None, voices: Sequence[VoiceRow], threshold: float
) -> SpeakerRow:
    """A speaker row for ``label``, named by the registry voice it matches, if any."""
    row = SpeakerRow(label=label, embedding=list(emb) if emb else None)
    found = match_voice(voices, emb, threshold) if emb else None
    if found is None:
        return row
    voice, similarity = found
    row.voice_id = voice.id
    if not voice.guessed:
        row.name = voice.name
        return row
    row.guess_name = voice.name
    row.guess_confidence = round(similarity * VOICE_GUESS_FACTOR, 3)
    where = f" in episode {voice.episode_id}" if voice.episode_id else ""
    row.guess_evidence = {"start": None, "end": None, "text": f"same voice as {voice.name}{where}"}
    return row


def apply_guesses(
    s: Session, episode_id: str, speakers: Sequence[SpeakerRow], guesses: Sequence[SpeakerGuess]
) -> None:
    """Store the transcript's guesses on the episode's speakers and register confident ones as
    guessed voices. A confirmed name is never touched; a voice-registry guess gives way to
    the transcript's when they disagree."""
    by_label = {g.label: g for g in guesses}
    taken = {entity_key(g.name) for g in guesses}
    for sp in speakers:
        guess = by_label.get(sp.label)
        if guess is None:
            if sp.guess_name and entity_key(sp.guess_name) in taken:
                _clear_guess(sp)  # the transcript gives this name to another label
            continue
        same = bool(sp.guess_name) and entity_key(sp.guess_name or "") == entity_key(guess.name)
        confidence = max(guess.confidence, sp.guess_confidence or 0.0) if same else guess.confidence
        if same or sp.guess_confidence is None or guess.confidence >= sp.guess_confidence:
            sp.guess_name, sp.guess_confidence = guess.name, round(confidence, 3)
            sp.guess_evidence = {"start": guess.start, "end": guess.end, "text": guess.text}
    s.flush()
    for sp in speakers:
        if sp.label in by_label:
            _register_voice(s, episode_id, sp)


def _clear_guess(sp: SpeakerRow) -> None:
    sp.guess_name = sp.guess_confidence = sp.guess_evidence = None


def _register_voice(s: Session, episode_id: str, sp: SpeakerRow) -> None:
    """Keep a confident guess as a guessed voice, so the voice is named in later episodes."""
    if sp.name or not sp.embedding or display_name(sp) == sp.label:
        return
    s.execute(
        delete(VoiceRow).where(
            VoiceRow.episode_id == episode_id,
            VoiceRow.label == sp.label,
            VoiceRow.guessed.is_(True),
        )
    )
    s.add(
        VoiceRow(
            name=sp.guess_name,
            embedding=sp.embedding,
            episode_id=episode_id,
            label=sp.label,
            guessed=True,
        )
    )
