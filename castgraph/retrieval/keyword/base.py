"""The keyword-index port: chunks searched by their words, and the store of every chunk's fields."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from castgraph.core.models import Chunk
from castgraph.retrieval.base import Retriever
from castgraph.retrieval.indexer import ChunkIndex


class KeywordIndex(ChunkIndex, Retriever, Protocol):
    """A BM25-style index of chunks (SQLite FTS5) that also serves chunks by id to search.

    Scores are the backend's relevance (higher is better; only the order is compared across
    backends). Every backend passes tests/integration/test_keyword_contract.py.
    """

    @property
    def shared(self) -> bool:
        """Whether the index lives in a server every process shares (queue workers write it)
        rather than in this process's files (each ``castgraph serve`` syncs its own)."""
        ...

    def open(self) -> KeywordIndex:
        """Create what is missing and connect; returns ``self``."""
        ...

    def close(self) -> None:
        """Release files and connections; ``open()`` may be called again afterwards."""
        ...

    def get(self, ids: Sequence[str]) -> dict[str, Chunk]:
        """The stored chunks among ``ids``, by id (missing ids are left out)."""
        ...

    def chunks_of(self, episode_id: str) -> list[Chunk]:
        """Every stored chunk of the episode, in ordinal order."""
        ...

    def has_episode(self, episode_id: str) -> bool:
        """Whether any chunk of the episode is stored."""
        ...

    def episode_ids(self) -> set[str]:
        """The ids of every episode with at least one stored chunk."""
        ...

    def count(self) -> int:
        """The number of stored chunks."""
        ...

    def check(self) -> None:
        """Raise StorageError unless the index answers a cheap read (the health probe)."""
        ...
