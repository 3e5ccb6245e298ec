"""The knowledge-graph seam: the ``GraphStore`` protocol and the plain records it returns.

Graph model (every backend holds the same one)::

    (:Episode {id, title, url, published, language, entity_keys})
    (:Chunk {id, episode_id, ordinal, start, end, text, speakers})   text: a short snippet only
    (:Speaker {name})                                                 global by name
    (:Entity {key, name, type, aliases})                              merged by ``entity_key``
    (:Chunk)-[:IN]->(:Episode)            (:Chunk)-[:NEXT]->(:Chunk)
    (:Speaker)-[:SAID]->(:Chunk)          (:Entity)-[:MENTIONED_IN]->(:Chunk)
    (:Entity)-[:RELATED {type, chunk_ids, weight, episode_ids, episode_weights}]->(:Entity)

Each episode writes its own RELATED edges (its ``episode_ids`` is just that episode) and
``relations()`` sums a relation's edges, so an episode's write never reads or rewrites evidence
that grows with the corpus, and deleting it drops exactly its edges (found through the episode's
``entity_keys``). Databases written before that hold one shared edge per relation, whose
parallel ``episode_ids``/``episode_weights`` lists let a delete subtract an episode's part.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from typing import Literal, Protocol, runtime_checkable

from castgraph.core.models import EpisodeDocument


@dataclass(frozen=True, slots=True)
class GraphChunk:
    """What the graph knows of a chunk: enough to filter and cite it, not its full text."""

    id: str
    episode_id: str
    ordinal: int
    start: float
    end: float
    speakers: tuple[str, ...] = ()
    language: str | None = None
    published: date | None = None
    next_id: str | None = None
    """The following chunk of the episode (only filled by ``GraphStore.chunks``)."""


@dataclass(frozen=True, slots=True)
class GraphEntity:
    """An entity node with the number of chunks that mention it."""

    key: str
    name: str
    type: str
    aliases: tuple[str, ...] = ()
    mentions: int = 0


@dataclass(frozen=True, slots=True)
class Mention:
    """An entity mentioned in a chunk."""

    entity_key: str
    chunk: GraphChunk


@dataclass(frozen=True, slots=True)
class RelationFact:
    """A RELATED edge with its evidence: the chunks (across episodes) that state it."""

    source_key: str
    source_name: str
    target_key: str
    target_name: str
    type: str
    weight: float
    chunk_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GraphStats:
    """Node and edge counts (health checks, metrics and the contract tests)."""

    episodes: int = 0
    chunks: int = 0
    speakers: int = 0
    entities: int = 0
    mentions: int = 0
    relations: int = 0
    next_edges: int = 0
    said_edges: int = 0


LinkMethod = Literal["exact", "alias", "partial", "fuzzy", "embedding"]


@dataclass(frozen=True, slots=True)
class LinkedEntity:
    """A graph entity found in a question, how it was found and how sure the link is (0–1)."""

    key: str
    name: str
    type: str
    confidence: float
    method: LinkMethod
    matched: str
    """The (folded) words of the question that produced the link."""


class GraphSearchReader(Protocol):
    """What graph search reads (the retriever and the entity linker), and nothing else.

    Served by every ``GraphStore`` and by the graph read model (``readmodel``), which answers
    it from compact tables instead of graph scans.
    """

    def version(self) -> str:
        """A token that changes on every write (lets readers cache ``entities()``)."""
        ...

    def entities(self) -> list[GraphEntity]:
        """Every entity with its mention count."""
        ...

    def mentions(self, keys: Sequence[str]) -> list[Mention]:
        """The chunks that mention any of the entities ``keys``."""
        ...

    def relations(self, keys: Sequence[str]) -> list[RelationFact]:
        """The RELATED edges that start or end at any of the entities ``keys``."""
        ...


@runtime_checkable
class EdgeWeightReader(Protocol):
    """A reader that can list an entity's RELATED edges as bare weights (the read model does;
    graph search falls back to ``relations`` elsewhere)."""

    def edge_weights(self, key: str) -> list[tuple[str, str, float]]:
        """(other end, relation type, edge weight) of every edge touching ``key``."""
        ...


@runtime_checkable
class SnapshotReader(Protocol):
    """A reader that can pin one state for a series of reads (the read model does; the graph
    stores read each statement on its own)."""

    def snapshot(self) -> AbstractContextManager[None]:
        """Reads of this thread inside the block all see one state."""
        ...


class GraphReader(GraphSearchReader, Protocol):
    """Everything a reader of the knowledge graph may ask (pages, health checks, search)."""

    def stats(self) -> GraphStats:
        """Node and edge counts."""
        ...

    def has_episode(self, episode_id: str) -> bool:
        """Whether the episode is in the graph."""
        ...

    def episode_ids(self) -> set[str]:
        """Every episode id in the graph."""
        ...

    def chunks(self, episode_id: str) -> list[GraphChunk]:
        """The episode's chunks by ordinal, with speakers from SAID and ``next_id`` from NEXT."""
        ...


class GraphWriter(Protocol):
    """What writes an episode's part of a graph (the stores, and the read model derived from it)."""

    def open(self) -> GraphWriter:
        """Connect (and create the schema when writable); returns ``self``."""
        ...

    def close(self) -> None:
        """Release files, locks and connections; safe to call twice."""
        ...

    def upsert_episode(self, document: EpisodeDocument) -> None:
        """Replace the episode's part of the graph, atomically; running it twice changes nothing."""
        ...

    def delete_episode(self, episode_id: str) -> None:
        """Remove an episode, its chunks, its evidence, and entities/speakers left without any."""
        ...


class GraphStore(GraphReader, GraphWriter, Protocol):
    """A knowledge graph of episodes, chunks, speakers and entities (embedded, Neo4j, memory):
    the union of ``GraphReader`` and ``GraphWriter``."""

    def open(self) -> GraphStore:
        """Connect (and create the schema when writable); returns ``self``."""
        ...
