"""The vector-index port: chunk embeddings that can be searched by meaning and kept in step."""

from __future__ import annotations

from typing import Protocol

from castgraph.retrieval.base import Retriever
from castgraph.retrieval.indexer import ChunkIndex


class VectorIndex(ChunkIndex, Retriever, Protocol):
    """Chunk vectors (the flat file, embedded Chroma, a Chroma server): the indexer writes them,
    search reads.

    ``search`` scores are cosines, 1.0 for a chunk's own text (higher is better): plain for
    Chroma, about the collection's centre for flat (``_matrix``). Every backend passes
    tests/integration/test_vector_contract.py.
    """

    @property
    def shared(self) -> bool:
        """Whether the vectors live in a server every process shares (queue workers write it)
        rather than in this process's files (each ``castgraph serve`` syncs its own)."""
        ...

    @property
    def location(self) -> str:
        """Where the vectors live, for messages."""
        ...

    def open(self) -> VectorIndex:
        """Connect (loading the embedder) and create what is missing; returns ``self``."""
        ...

    def close(self) -> None:
        """Release files and connections; safe to call twice."""
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
