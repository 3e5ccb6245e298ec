"""The JSON shape of an episode's speakers, shared by ``GET /api/episodes/{id}`` and
``castgraph speakers list --json``."""

from __future__ import annotations

from pydantic import BaseModel, Field

from castgraph.core.models import Episode, SpeakerInfo
from castgraph.core.timefmt import moment_link

LINK_HELP = (
    "Opens the media at the moment: the original URL (YouTube `&t=`, else `#t=`), or, for media "
    "without a public page (local files, the demo), the server-relative `/media/{episode_id}#t=N`."
)


class EvidenceOut(BaseModel):
    """The moment that names the speaker (null times: the voice registry matched the voice)."""

    start: float | None
    end: float | None
    text: str
    link: str | None = Field(description=LINK_HELP)


class SpeakerOut(BaseModel):
    """A speaker: its label, the name shown for it, and how sure that name is."""

    label: str = Field(description="The diarization label, e.g. SPEAKER_00.")
    name: str = Field(description="Confirmed name, else a confident guess, else the label.")
    confirmed: bool = Field(description="Named by a person (a rename, or a renamed voice).")
    guess: str | None = Field(
        description="The identified name; a suggestion when below the confidence threshold."
    )
    confidence: float | None = Field(description="1.0 when confirmed; the guess's otherwise.")
    evidence: EvidenceOut | None

    @classmethod
    def of(cls, info: SpeakerInfo, episode: Episode) -> SpeakerOut:
        guess = info.guess
        evidence = None
        if guess is not None and (not info.confirmed or guess.name == info.name):
            start = guess.start
            link = moment_link(episode.url, start, episode.id) if start is not None else None
            evidence = EvidenceOut(start=guess.start, end=guess.end, text=guess.text, link=link)
        confidence = 1.0 if info.confirmed else (guess.confidence if guess else None)
        return cls(
            label=info.label,
            name=info.name,
            confirmed=info.confirmed,
            guess=guess.name if guess else None,
            confidence=confidence,
            evidence=evidence,
        )
