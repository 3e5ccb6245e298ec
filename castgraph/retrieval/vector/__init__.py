"""Vector retrieval: chunk embeddings in Chroma (embedded database or ``chroma run`` server).

Importing this package does not import chromadb; connecting does (``ChromaVectorIndex.open()``
or the first call that needs the collection).
"""

from __future__ import annotations

from castgraph.retrieval.vector.chroma import ChromaVectorIndex, collection_name, where_clause

__all__ = ["ChromaVectorIndex", "collection_name", "where_clause"]
