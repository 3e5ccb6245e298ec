"""The knowledge graph: stores (embedded LadybugDB, Neo4j, in-memory) and the graph retriever."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from castgraph.retrieval.graph.base import (
    GraphChunk,
    GraphEntity,
    GraphReader,
    GraphSearchReader,
    GraphStats,
    GraphStore,
    GraphWriter,
    LinkedEntity,
    Mention,
    RelationFact,
)

GraphBackend = Literal["embedded", "neo4j", "memory"]

__all__ = [
    "GraphBackend",
    "GraphChunk",
    "GraphEntity",
    "GraphReader",
    "GraphSearchReader",
    "GraphStats",
    "GraphStore",
    "GraphWriter",
    "LinkedEntity",
    "Mention",
    "RelationFact",
    "make_graph_store",
]


def make_graph_store(
    backend: GraphBackend,
    *,
    path: Path | None = None,
    uri: str | None = None,
    user: str | None = None,
    password: str | None = None,
    database: str | None = None,
    read_only: bool = False,
) -> GraphStore:
    """A graph store for ``backend``, not yet opened (call ``open()``).

    ``embedded`` needs ``path`` (the database file), ``neo4j`` needs ``uri``. The backend
    module is imported here, so a missing optional driver fails only when it is chosen.
    """
    if backend == "memory":
        from castgraph.retrieval.graph.memory import MemoryGraphStore

        return MemoryGraphStore()
    if backend == "embedded":
        if path is None:
            raise ValueError("the embedded graph store needs a path")
        from castgraph.retrieval.graph.embedded import EmbeddedGraphStore

        return EmbeddedGraphStore(path, read_only=read_only)
    if backend == "neo4j":
        if not uri:
            raise ValueError("the neo4j graph store needs a uri")
        from castgraph.retrieval.graph.neo4j import Neo4jGraphStore

        return Neo4jGraphStore(
            uri, user=user, password=password, database=database, read_only=read_only
        )
    raise ValueError(f"unknown graph backend {backend!r}")
