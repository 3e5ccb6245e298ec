"""A new flat vector index starts from the embedded Chroma collection of the same embedder
(a data directory written before ``flat`` was chosen): every vector and filter field, once,
all or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from castgraph.core.errors import StorageError
from castgraph.retrieval.base import Retriever, SearchFilters
from castgraph.retrieval.embeddings.hashing import HashEmbedder
from castgraph.retrieval.vector import ChromaVectorIndex, adopt
from castgraph.retrieval.vector.flat import FlatVectorIndex
from tests.integration.test_vector_contract import CHUNKS, FILTER_CASES

pytestmark = pytest.mark.integration

QUERIES = ("sensores en Barracas", "masa madre", "green roofs", "plantas y vecinos")
NO_FILTERS = SearchFilters()


def _chroma(tmp_path: Path) -> ChromaVectorIndex:
    chroma = ChromaVectorIndex(HashEmbedder(), path=tmp_path / "chroma").open()
    chroma.upsert(CHUNKS)
    return chroma


def _flat(tmp_path: Path) -> FlatVectorIndex:
    return FlatVectorIndex(
        HashEmbedder(), directory=tmp_path / "vectors", adopt_from=tmp_path / "chroma"
    )


def _found(index: Retriever, filters: SearchFilters = NO_FILTERS) -> list[set[str]]:
    """What each query finds under ``filters`` (every chunk that passes: k exceeds them)."""
    return [{h.chunk_id for h in index.search(q, 10, filters)} for q in QUERIES]


def _vectors(index: FlatVectorIndex | ChromaVectorIndex) -> dict[str, list[float]]:
    """Each chunk's stored vector, rounded (float32 in both stores)."""
    if isinstance(index, ChromaVectorIndex):
        stored = index._collection.get(include=["embeddings"])
        pairs = zip(stored["ids"], stored["embeddings"], strict=True)
    else:
        matrix = index._current()
        pairs = zip(matrix.ids, matrix.vectors, strict=True)
    return {str(i): [round(float(x), 5) for x in v] for i, v in pairs}


def test_a_new_flat_index_copies_chromas_vectors_once(tmp_path: Path) -> None:
    chroma = _chroma(tmp_path)
    flat = _flat(tmp_path).open()
    try:
        assert flat.count() == len(CHUNKS)
        assert flat.episode_ids() == chroma.episode_ids()
        assert _vectors(flat) == _vectors(chroma)
        for filters in FILTER_CASES.values():  # speakers, languages and days came along
            assert _found(flat, filters) == _found(chroma, filters), filters
        flat.delete_episode("ep1")
    finally:
        flat.close()
        chroma.close()
    again = _flat(tmp_path).open()  # written since: never copied again
    try:
        assert again.episode_ids() == {"ep2", "ep3"}
    finally:
        again.close()


def test_a_copy_cut_short_leaves_nothing_and_is_made_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _chroma(tmp_path).close()
    real = adopt.chroma_pages
    monkeypatch.setattr(adopt, "PAGE", 3)  # three pages of the seven chunks

    def failing(path: Path, name: str):  # type: ignore[no-untyped-def]
        pages = real(path, name)
        yield next(pages)
        raise StorageError("disk full")

    monkeypatch.setattr("castgraph.retrieval.vector.flat.chroma_pages", failing)
    with pytest.raises(StorageError, match="disk full"):
        _flat(tmp_path).open()
    monkeypatch.setattr("castgraph.retrieval.vector.flat.chroma_pages", real)
    flat = _flat(tmp_path).open()
    try:
        assert flat.count() == len(CHUNKS)
    finally:
        flat.close()


def test_nothing_to_copy_without_chroma(tmp_path: Path) -> None:
    flat = _flat(tmp_path).open()
    try:
        assert flat.count() == 0 and not (tmp_path / "chroma").exists()
    finally:
        flat.close()
