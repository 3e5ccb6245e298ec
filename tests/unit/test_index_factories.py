"""Settings choose the vector and keyword backends; the factories build them without opening."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from castgraph.api import _indexes
from castgraph.core.settings import Settings
from castgraph.retrieval.embeddings.hashing import HashEmbedder
from castgraph.retrieval.keyword import SqliteKeywordIndex, keyword_index
from castgraph.retrieval.vector import ChromaVectorIndex, supports_read_only, vector_index
from castgraph.retrieval.vector.flat import FlatVectorIndex

URL = "http://127.0.0.1:8001"


def test_the_vector_backend_defaults_from_the_chroma_url(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).resolved_vector_backend == "flat"
    with_url = Settings(data_dir=tmp_path, chroma_url=URL)
    assert with_url.resolved_vector_backend == "chroma-server"
    explicit = Settings(data_dir=tmp_path, chroma_url=URL, vector_backend="chroma")
    assert explicit.resolved_vector_backend == "chroma"  # a named backend wins over the URL


def test_the_vector_backend_is_read_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASTGRAPH_CHROMA_URL", URL)
    monkeypatch.setenv("CASTGRAPH_VECTOR_BACKEND", "chroma-server")
    assert Settings(data_dir=tmp_path).resolved_vector_backend == "chroma-server"
    monkeypatch.setenv("CASTGRAPH_VECTOR_BACKEND", "")  # blank: as if unset
    monkeypatch.delenv("CASTGRAPH_CHROMA_URL")
    assert Settings(data_dir=tmp_path).resolved_vector_backend == "flat"


@pytest.mark.parametrize(
    "values",
    [
        {"vector_backend": "chroma-server"},  # a server backend without its URL
        {"vector_backend": "faiss"},
        {"keyword_backend": "elastic"},
    ],
)
def test_backends_that_cannot_work_are_refused(tmp_path: Path, values: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        Settings(data_dir=tmp_path, **values)  # type: ignore[arg-type]


def test_the_vector_factory_builds_embedded_chroma_in_the_data_directory(tmp_path: Path) -> None:
    index = vector_index(Settings(data_dir=tmp_path, vector_backend="chroma"), HashEmbedder())
    assert isinstance(index, ChromaVectorIndex)
    assert (index.path, index.url, index.shared) == (tmp_path / "chroma", None, False)
    assert not (tmp_path / "chroma").exists()  # nothing is opened or created yet


def test_the_vector_factory_builds_a_chroma_server_client(tmp_path: Path) -> None:
    index = vector_index(Settings(data_dir=tmp_path, chroma_url=URL), HashEmbedder())
    assert isinstance(index, ChromaVectorIndex)
    assert (index.url, index.shared) == (URL, True)
    assert URL in index.location


def test_the_vector_factory_builds_the_flat_index_by_default(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)  # the default without a Chroma URL
    index = vector_index(settings, HashEmbedder())
    assert isinstance(index, FlatVectorIndex)
    assert (index.directory, index.shared, index.read_only) == (tmp_path / "vectors", False, False)
    chroma = Settings(data_dir=tmp_path, vector_backend="chroma")
    assert supports_read_only(settings) and not supports_read_only(chroma)
    reader = vector_index(settings, HashEmbedder(), read_only=True)
    assert isinstance(reader, FlatVectorIndex) and reader.read_only
    assert not (tmp_path / "vectors").exists()  # nothing is opened or created yet


def test_the_keyword_factory_builds_sqlite_in_the_data_directory(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    index = keyword_index(settings)
    assert isinstance(index, SqliteKeywordIndex)
    assert (index.path, index.shared) == (settings.keyword_path, False)
    assert not settings.keyword_path.exists()


def test_a_worker_writes_no_local_index(tmp_path: Path) -> None:
    # Local files belong to each serve; with no shared server there is nothing for a worker.
    closers: list[Callable[[], None]] = []
    settings = Settings(data_dir=tmp_path, graph_backend="none")
    assert _indexes.shared_indexer(settings, closers) is None
    assert closers == []
    assert list(tmp_path.iterdir()) == []
