"""The ``Indexer`` implementation: one episode written to the keyword, vector and graph indexes."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Protocol

from castgraph.core.models import Chunk, EpisodeDocument

log = logging.getLogger(__name__)


class ChunkIndex(Protocol):
    """An index of chunks (keyword or vector) that can drop an episode."""

    def upsert(self, chunks: Sequence[Chunk]) -> None:
        """Write chunks by id, replacing any with the same id."""
        ...

    def delete_episode(self, episode_id: str) -> None:
        """Remove every chunk of an episode."""
        ...


class EpisodeGraph(Protocol):
    """The part of a graph store the indexer writes through."""

    def upsert_episode(self, document: EpisodeDocument) -> None:
        """Replace the episode's part of the graph."""
        ...

    def delete_episode(self, episode_id: str) -> None:
        """Remove the episode's part of the graph."""
        ...


class StoresIndexer:
    """Writes keyword → vectors → graph (design §3.8), each replacing the episode's old entries.

    Deleting before writing makes a re-chunked episode lose its stale chunk ids; an interrupted
    run leaves the episode in state ``indexing`` (invisible to search) and the next run redoes it.
    """

    def __init__(
        self, keyword: ChunkIndex | None, vector: ChunkIndex | None, graph: EpisodeGraph | None
    ) -> None:
        self._keyword = keyword
        self._vector = vector
        self._graph = graph

    def index(self, document: EpisodeDocument) -> None:
        episode_id = document.episode.id
        started = time.perf_counter()
        for index in (self._keyword, self._vector):
            if index is not None:
                index.delete_episode(episode_id)
                index.upsert(document.chunks)
        if self._graph is not None:
            self._graph.upsert_episode(document)
        log.info(
            "episode indexed",
            extra={
                "episode_id": episode_id,
                "chunks": len(document.chunks),
                "entities": len(document.entities),
                "seconds": round(time.perf_counter() - started, 2),
            },
        )

    def delete(self, episode_id: str) -> None:
        for index in (self._keyword, self._vector, self._graph):
            if index is not None:
                index.delete_episode(episode_id)
