"""The JSON shapes behind the web UI's People and Topics pages and the speaker rename."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from castgraph.api.speaker_schemas import LINK_HELP
from castgraph.core.text import strip_control


class Moment(BaseModel):
    """One playable moment: a sentence (or a chunk's start) of an episode."""

    episode_id: str
    title: str
    published: str | None = Field(description="The episode's publication date (ISO), if known.")
    speaker: str | None
    start: float
    end: float
    text: str
    link: str = Field(description=LINK_HELP)


class TopicRef(BaseModel):
    """An entity of the knowledge graph, by its key (``/api/topics/{key}``) and display name."""

    key: str
    name: str


class TaggedMoment(Moment):
    """A sentence a person said, with the entities it names (empty: an untagged first sentence,
    shown so that an episode where the person names no entity still appears)."""

    topics: list[TopicRef]


class PersonOut(BaseModel):
    """A named speaker across the indexed episodes."""

    name: str
    episodes: int = Field(description="Indexed episodes where this name speaks.")
    moments: int = Field(description="Sentences they said that name an entity.")
    first_published: str | None
    last_published: str | None


class PersonTopic(TopicRef):
    type: str
    count: int = Field(description="How many of the person's sentences name it.")


class PersonEpisode(BaseModel):
    episode_id: str
    title: str
    published: str | None
    url: str
    total_moments: int = Field(description="Matching moments before the caps.")
    moments: list[TaggedMoment]


class PersonDetail(BaseModel):
    """What a person said, episode by episode, oldest publication first (a timeline)."""

    name: str
    topics: list[PersonTopic]
    episodes: list[PersonEpisode]
    truncated: bool = Field(description="A cap (per episode, total or topics) left some out.")


class TopicOut(BaseModel):
    key: str
    name: str
    type: str
    mentions: int = Field(description="Chunks that mention it, across episodes.")


class RelatedOut(BaseModel):
    """A neighbour in the graph, the relation to it, and the moments that state it."""

    key: str
    name: str
    type: str
    relation: str
    direction: str = Field(description="'out': topic → related; 'in': related → topic.")
    weight: float
    moments: list[Moment]


class TopicDetail(BaseModel):
    """An entity, where it is mentioned, and its depth-1 neighbourhood (capped by weight)."""

    key: str
    name: str
    type: str
    aliases: list[str]
    mentions: int
    moments: list[Moment]
    related: list[RelatedOut]
    related_total: int = Field(description="Relations before the cap.")
    truncated: bool = Field(description="The moment or related cap left some out.")


class SpeakerRename(BaseModel):
    """``PUT /api/episodes/{id}/speakers/{label}``: the name to give the speaker."""

    name: str = Field(min_length=1, max_length=100, examples=["Ana García"])

    @field_validator("name", mode="before")
    @classmethod
    def _clean(cls, value: object) -> object:
        # names reach terminals (CLI listings) and prompts: no control characters, no padding
        return " ".join(strip_control(value, " ").split()) if isinstance(value, str) else value
