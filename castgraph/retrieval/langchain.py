"""castgraph as a LangChain retriever: fused search results as ``Document`` objects.

Requires ``langchain-core`` (``pip install 'castgraph[langchain]'``). Each document's metadata
carries the moment: episode id, title, url, ``link`` (the url at the moment's second, or the
server-relative ``/media/{id}#t=N`` for media without a public page), speaker, speakers, start,
end, score and signals, so a chain can cite what it used.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict

from castgraph.core.errors import DependencyError
from castgraph.retrieval.base import SearchFilters
from castgraph.retrieval.search import SearchResult, SearchService

try:
    from langchain_core.callbacks import CallbackManagerForRetrieverRun
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise DependencyError("langchain-core", "langchain") from exc


def to_document(result: SearchResult) -> Document:
    """A search result as a LangChain document with the moment's metadata."""
    chunk = result.chunk
    metadata: dict[str, Any] = {
        "chunk_id": chunk.id,
        "episode_id": chunk.episode_id,
        "title": chunk.title,
        "url": chunk.url,
        "link": result.link,
        "speaker": chunk.speaker,
        "speakers": list(chunk.speakers),
        "start": chunk.start,
        "end": chunk.end,
        "language": chunk.language,
        "score": result.score,
        "signals": dict(result.signals),
    }
    return Document(page_content=chunk.text, metadata=metadata, id=chunk.id)


class CastgraphRetriever(BaseRetriever):
    """A LangChain retriever over castgraph's hybrid (vector + keyword + graph) search."""

    service: Any
    """The ``SearchService`` to query (typed ``Any`` so pydantic accepts it)."""
    k: int = 5
    filters: SearchFilters = SearchFilters()

    model_config = ConfigDict(arbitrary_types_allowed=True)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        service: SearchService = self.service
        return [to_document(r) for r in service.search(query, self.k, self.filters)]
