"""What is particular to the Chroma backends (the contract is in test_vector_contract.py).

One collection per embedding space, the embedded database read by another process, a server
that cannot be reached, a collection Chroma itself can describe, a collection made with another
distance, and a real multilingual model. The server is the one of tests/chromaserver.py.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from castgraph.core.errors import StorageError
from castgraph.core.models import Chunk, chunk_id
from castgraph.retrieval.base import SearchFilters
from castgraph.retrieval.embeddings.base import TextEmbedder
from castgraph.retrieval.embeddings.hashing import HashEmbedder
from castgraph.retrieval.vector import ChromaVectorIndex
from tests.chromaserver import chroma_server  # noqa: F401
from tests.netutil import free_port

pytestmark = pytest.mark.integration

IndexFactory = Callable[[TextEmbedder], ChromaVectorIndex]


@pytest.fixture(params=["persistent", "http"])
def make_index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IndexFactory]:
    """Builds indexes on one store: a database in tmp_path, or a fresh collection on the server."""
    url = request.getfixturevalue("chroma_server") if request.param == "http" else None
    base = f"t{uuid.uuid4().hex[:12]}"
    opened: list[ChromaVectorIndex] = []

    def factory(embedder: TextEmbedder) -> ChromaVectorIndex:
        path = None if url else tmp_path / "chroma"
        opened.append(ChromaVectorIndex(embedder, path=path, url=url, collection=base))
        return opened[-1]

    yield factory
    for index in opened:
        index.close()


def _chunk(ordinal: int, text: str, language: str = "es") -> Chunk:
    return Chunk(
        id=chunk_id("ep1", ordinal),
        episode_id="ep1",
        ordinal=ordinal,
        start=ordinal * 10.0,
        end=ordinal * 10.0 + 9.5,
        text=text,
        speakers=("Lucía Benítez",),
        language=language,
        title="Episode ep1",
        url="https://example.org/ep1",
    )


CHUNKS = (
    _chunk(0, "Colgamos cuarenta sensores en postes de luz en Barracas"),
    _chunk(1, "Plantamos tipas con los vecinos"),
    _chunk(2, "La masa madre se llama Doña Rosa"),
    _chunk(3, "Green roofs cool the building below", language="en"),
)


def test_collection_is_named_after_the_embedding_space(make_index: IndexFactory) -> None:
    index = make_index(HashEmbedder(dimension=64))
    assert index.collection_name.endswith("__hash-64")
    index.upsert(CHUNKS[:2])
    other = make_index(HashEmbedder(dimension=128))
    assert other.count() == 0  # another space, another collection
    assert index.count() == 2


def test_another_process_reads_the_embedded_database(tmp_path: Path) -> None:
    with ChromaVectorIndex(HashEmbedder(), path=tmp_path) as index:
        index.upsert(CHUNKS)
    script = (
        "import sys; from pathlib import Path\n"
        "from castgraph.retrieval.base import SearchFilters\n"
        "from castgraph.retrieval.embeddings.hashing import HashEmbedder\n"
        "from castgraph.retrieval.vector import ChromaVectorIndex\n"
        "with ChromaVectorIndex(HashEmbedder(), path=Path(sys.argv[1])) as index:\n"
        "    hit = index.search(sys.argv[2], 1, SearchFilters())[0]\n"
        "    print(index.count(), hit.chunk_id)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), CHUNKS[3].text],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(len(CHUNKS)), CHUNKS[3].id]


def test_unreachable_server_is_a_storage_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    index = ChromaVectorIndex(HashEmbedder(), url=url)
    with pytest.raises(StorageError, match="unreachable") as caught:
        index.open()
    assert url in str(caught.value) and "chroma run" in str(caught.value)
    with pytest.raises(StorageError):
        index.search("hola", 3, SearchFilters())


def test_collection_configuration_reads_back_in_chroma(tmp_path: Path) -> None:
    """Chroma can describe the collection (its embedding function is registered, cosine space)."""
    import chromadb
    from chromadb.config import Settings

    with ChromaVectorIndex(HashEmbedder(), path=tmp_path) as index:
        index.upsert(CHUNKS[:1])
        name = index.collection_name
    client = chromadb.PersistentClient(
        path=str(tmp_path), settings=Settings(anonymized_telemetry=False)
    )
    try:
        configuration = client.get_collection(name).configuration
        assert configuration["hnsw"] is not None and configuration["hnsw"]["space"] == "cosine"
    finally:
        client.close()  # type: ignore[attr-defined]  # Client has it, ClientAPI does not


@pytest.mark.slow
def test_multilingual_model_finds_spanish_chunks_for_english_questions(
    tmp_path: Path, models_dir: Path
) -> None:
    from castgraph.retrieval.embeddings import make_embedder

    embedder = make_embedder("use-multilingual-v3", models_dir=models_dir)
    with ChromaVectorIndex(embedder, path=tmp_path) as index:
        index.upsert(CHUNKS)
        assert index.collection_name.endswith("__use-multilingual-v3-512")
        hits = index.search("What is the name of the sourdough starter?", 3, SearchFilters())
        assert hits[0].chunk_id == CHUNKS[2].id


def test_a_collection_with_another_distance_is_refused(tmp_path: Path) -> None:
    import chromadb
    from chromadb.config import Settings

    index = ChromaVectorIndex(HashEmbedder(), path=tmp_path)
    client = chromadb.PersistentClient(
        path=str(tmp_path), settings=Settings(anonymized_telemetry=False)
    )
    try:
        client.create_collection(
            index.collection_name, configuration={"hnsw": {"space": "l2"}}, embedding_function=None
        )
    finally:
        client.close()  # type: ignore[attr-defined]  # Client has it, ClientAPI does not
    with pytest.raises(StorageError, match="l2 distance"):
        index.open()
