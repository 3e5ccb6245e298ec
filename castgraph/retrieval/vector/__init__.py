"""Vector retrieval: the ``VectorIndex`` port, its backends and the factory that picks one.

Backends: ``chroma`` (an embedded database in the data directory), ``chroma-server`` (a
``chroma run`` server) and ``flat`` (a SQLite file in the data directory, searched in memory).
Importing this package does not import chromadb; connecting does (``open()`` or the first call
that needs the collection).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from castgraph.core.errors import InputError
from castgraph.retrieval.vector.base import VectorIndex
from castgraph.retrieval.vector.chroma import ChromaVectorIndex, collection_name, where_clause

if TYPE_CHECKING:
    from castgraph.core.settings import Settings
    from castgraph.retrieval.embeddings.base import TextEmbedder

__all__ = [
    "ChromaVectorIndex",
    "VectorIndex",
    "collection_name",
    "supports_read_only",
    "vector_index",
    "where_clause",
]


def vector_index(
    settings: Settings, embedder: TextEmbedder, *, read_only: bool = False
) -> VectorIndex:
    """The vector index ``settings`` choose (``resolved_vector_backend``), not yet opened.

    A backend's module is imported here, so an optional client library is needed only when
    that backend is chosen. ``read_only`` (a process beside the data directory's writer) is
    honoured by ``flat``; Chroma has no read-only mode, so callers must not open an embedded
    Chroma database there (see ``supports_read_only``).
    """
    backend = settings.resolved_vector_backend
    if backend == "flat":
        from castgraph.retrieval.vector.flat import FlatVectorIndex

        return FlatVectorIndex(
            embedder,
            directory=settings.flat_vectors_path,
            read_only=read_only,
            adopt_from=settings.chroma_path,  # a new file starts from Chroma's vectors, if any
        )
    if backend == "chroma":
        return ChromaVectorIndex(
            embedder, path=settings.chroma_path, ef_search=settings.vector_ef_search
        )
    if backend == "chroma-server":
        if not settings.chroma_url:  # Settings refuses this too; kept for hand-built ones
            raise InputError("the chroma-server vector backend needs CASTGRAPH_CHROMA_URL")
        return ChromaVectorIndex(
            embedder, url=settings.chroma_url, ef_search=settings.vector_ef_search
        )
    raise InputError(f"unknown vector backend {backend!r}")


def supports_read_only(settings: Settings) -> bool:
    """Whether the chosen vector backend can be opened read-only beside its writer."""
    return settings.resolved_vector_backend == "flat"
