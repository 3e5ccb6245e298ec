"""The configured HNSW ef_search reaches new and existing Chroma collections (and stays there
for the next process, which is what the plain-Chroma readers of the same files see)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings

from castgraph.core.settings import Settings
from castgraph.retrieval.embeddings.hashing import HashEmbedder
from castgraph.retrieval.vector import ChromaVectorIndex, vector_index

pytestmark = pytest.mark.integration


def _stored_ef(path: Path, name: str) -> Any:
    client = chromadb.PersistentClient(
        path=str(path), settings=ChromaSettings(anonymized_telemetry=False)
    )
    try:
        return client.get_collection(name).configuration_json["hnsw"]["ef_search"]
    finally:
        client.close()


def test_a_new_collection_gets_the_setting(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, vector_backend="chroma", vector_ef_search=333)
    index = vector_index(settings, HashEmbedder()).open()
    name = index.collection_name  # type: ignore[attr-defined]
    index.close()
    assert _stored_ef(settings.chroma_path, name) == 333


def test_an_existing_collection_is_updated_at_open(tmp_path: Path) -> None:
    path = tmp_path / "chroma"
    old = ChromaVectorIndex(HashEmbedder(), path=path, ef_search=100).open()
    name = old.collection_name
    old.close()
    assert _stored_ef(path, name) == 100
    ChromaVectorIndex(HashEmbedder(), path=path, ef_search=400).open().close()
    assert _stored_ef(path, name) == 400
