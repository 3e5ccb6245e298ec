"""The Chroma embedding function castgraph hands to every collection it opens.

castgraph always passes its own vectors on upsert and query; this adapter exists so that Chroma
never falls back to its default embedding function, which would download a model. It is
registered under the name ``castgraph`` so that collections can be reopened (and their
configuration read) without Chroma asking for an unknown function.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from castgraph.core.errors import StorageError
from castgraph.retrieval.embeddings.base import TextEmbedder

NAME = "castgraph"


class CastgraphEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma's view of a castgraph ``TextEmbedder`` (cosine space only)."""

    def __init__(self, embedder: TextEmbedder | None = None, *, model: str = "") -> None:
        self._embedder = embedder
        self._model = embedder.name if embedder is not None else model

    def __call__(self, input: Documents) -> Embeddings:
        embedder = self._require()
        return [np.asarray(v, dtype=np.float32) for v in embedder.embed(list(input))]

    def embed_query(self, input: Documents) -> Embeddings:
        embedder = self._require()
        return [np.asarray(embedder.embed_query(text), dtype=np.float32) for text in input]

    @staticmethod
    def name() -> str:
        return NAME

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"model": self._model}
        if self._embedder is not None:
            config["dimension"] = self._embedder.dimension
        return config

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> CastgraphEmbeddingFunction:
        # Rebuilt by Chroma from a stored configuration: it has no model, and says so if used.
        return CastgraphEmbeddingFunction(model=str(config.get("model", "")))

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine"]

    def _require(self) -> TextEmbedder:
        if self._embedder is None:
            raise StorageError(
                f"this Chroma collection holds castgraph vectors of model {self._model!r}; "
                "open it through castgraph (ChromaVectorIndex), which embeds texts itself"
            )
        return self._embedder


def register() -> None:
    """Make ``castgraph`` a known embedding function name for Chroma (idempotent)."""
    register_embedding_function(CastgraphEmbeddingFunction)  # type: ignore[no-untyped-call]
