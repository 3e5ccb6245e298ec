"""The ``Indexer`` implementation: one episode written to the keyword, vector and graph indexes."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from castgraph.core.models import Chunk, EpisodeDocument, chunk_build

log = logging.getLogger(__name__)


class ChunkIndex(Protocol):
    """An index of chunks (keyword or vector) that can drop an episode."""

    def upsert(self, chunks: Sequence[Chunk]) -> None:
        """Write chunks by id, replacing any with the same id."""
        ...

    def delete_episode(self, episode_id: str) -> None:
        """Remove every chunk of an episode."""
        ...

    def chunk_ids(self, episode_id: str) -> set[str]:
        """The ids of the episode's chunks (of every build)."""
        ...

    def delete_chunks(self, ids: Sequence[str]) -> None:
        """Remove chunks by id (unknown ids are ignored)."""
        ...


class EpisodeGraph(Protocol):
    """The part of a graph store the indexer writes through."""

    def upsert_episode(self, document: EpisodeDocument) -> None:
        """Replace the episode's part of the graph."""
        ...

    def delete_episode(self, episode_id: str) -> None:
        """Remove the episode's part of the graph."""
        ...


class GraphWrites:
    """Writes an episode to the graph store, then to the read models derived from it (the
    graph read model that serves graph search): one ``EpisodeGraph`` for the indexer."""

    def __init__(self, *targets: EpisodeGraph) -> None:
        self.targets = targets

    def upsert_episode(self, document: EpisodeDocument) -> None:
        for target in self.targets:
            target.upsert_episode(document)

    def delete_episode(self, episode_id: str) -> None:
        for target in self.targets:
            target.delete_episode(episode_id)


def graph_writes(*targets: EpisodeGraph | None) -> EpisodeGraph | None:
    """The given targets as one ``EpisodeGraph`` (None when there is none)."""
    present = [t for t in targets if t is not None]
    if len(present) <= 1:
        return present[0] if present else None
    return GraphWrites(*present)


class StoresIndexer:
    """Writes keyword → vectors → graph (design §3.8).

    Chunks are written by id before the episode's other chunks are dropped, so a re-indexed
    episode never has a moment without entries. A re-process writes its build's chunks beside
    the live build's (``stage``); the graph holds one build per episode and is replaced in one
    transaction right after the catalog swap (``retire``), when the old build's chunks go too.
    Search filters every hit to its episode's live build, so neither build's leftovers show.
    """

    def __init__(
        self, keyword: ChunkIndex | None, vector: ChunkIndex | None, graph: EpisodeGraph | None
    ) -> None:
        self._keyword = keyword
        self._vector = vector
        self._graph = graph

    def index(self, document: EpisodeDocument) -> None:
        started = time.perf_counter()
        self._write(document.chunks)
        self._retain(document.episode.id, _current(document))
        if self._graph is not None:
            self._graph.upsert_episode(document)
        log.info(
            "episode indexed",
            extra={
                "episode_id": document.episode.id,
                "chunks": len(document.chunks),
                "entities": len(document.entities),
                "seconds": round(time.perf_counter() - started, 2),
            },
        )

    def stage(self, document: EpisodeDocument, live_build: int) -> None:
        ids = {c.id for c in document.chunks}
        # A killed attempt at this build may have left chunks this one no longer has.
        self._retain(document.episode.id, lambda i: i in ids or chunk_build(i) == live_build)
        self._write(document.chunks)
        log.info(
            "build staged",
            extra={"episode_id": document.episode.id, "chunks": len(document.chunks)},
        )

    def retire(self, document: EpisodeDocument) -> None:
        if self._graph is not None:
            self._graph.upsert_episode(document)
        self._retain(document.episode.id, _current(document))
        log.info("old build retired", extra={"episode_id": document.episode.id})

    def delete(self, episode_id: str) -> None:
        for index in (self._keyword, self._vector, self._graph):
            if index is not None:
                index.delete_episode(episode_id)

    def _write(self, chunks: Sequence[Chunk]) -> None:
        for index in (self._keyword, self._vector):
            if index is not None:
                index.upsert(chunks)

    def _retain(self, episode_id: str, keep: Callable[[str], bool]) -> None:
        """Drop the episode's chunks that ``keep`` rejects from the keyword and vector indexes."""
        for index in (self._vector, self._keyword):  # keyword last: it serves the chunk lookups
            if index is not None:
                index.delete_chunks(sorted(i for i in index.chunk_ids(episode_id) if not keep(i)))


def _current(document: EpisodeDocument) -> Callable[[str], bool]:
    """The document's chunks and any newer build's (a re-process may be staging one)."""
    ids = {c.id for c in document.chunks}
    builds = {chunk_build(i) for i in ids}
    newest = max(builds, default=0)
    return lambda i: i in ids or chunk_build(i) > newest
