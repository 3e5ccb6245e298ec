"""The Chroma vector index against real Chroma: the embedded database and a ``chroma run`` server.

Every contract test runs in both modes with the hash embedder. The server is a real ``chroma run``
process on a free loopback port over a temporary directory, started once for the session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest

from castgraph.core.errors import StorageError
from castgraph.core.models import Chunk, chunk_id
from castgraph.retrieval.base import SearchFilters
from castgraph.retrieval.embeddings.base import TextEmbedder
from castgraph.retrieval.embeddings.hashing import HashEmbedder
from castgraph.retrieval.vector import ChromaVectorIndex
from tests.netutil import free_port

pytestmark = pytest.mark.integration

IndexFactory = Callable[..., ChromaVectorIndex]
SERVER_START_TIMEOUT = 60.0


def _chroma_cli() -> str | None:
    beside = Path(sys.executable).with_name("chroma")
    return str(beside) if beside.is_file() else shutil.which("chroma")


def _wait_for_heartbeat(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"chroma run exited with {process.returncode}:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"chroma run did not answer within {SERVER_START_TIMEOUT} s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a real ``chroma run`` server on a free loopback port, stopped at the end."""
    cli = _chroma_cli()
    if cli is None:
        pytest.skip("the chroma CLI (installed with the chromadb package) is not on PATH")
    root = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = root / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [cli, "run", "--path", str(root / "data"), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
    try:
        _wait_for_heartbeat(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(params=["persistent", "http"])
def make_index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IndexFactory]:
    """Builds indexes on one store: a database in tmp_path, or a fresh collection on the server."""
    url = request.getfixturevalue("chroma_server") if request.param == "http" else None
    base = f"t{uuid.uuid4().hex[:12]}"
    opened: list[ChromaVectorIndex] = []

    def factory(embedder: TextEmbedder | None = None) -> ChromaVectorIndex:
        index = ChromaVectorIndex(
            embedder or HashEmbedder(),
            path=None if url else tmp_path / "chroma",
            url=url,
            collection=base,
            batch_size=3,  # several batches per episode
        )
        opened.append(index)
        return index

    yield factory
    for index in opened:
        index.close()


def _chunk(episode: str, ordinal: int, text: str, **changes: object) -> Chunk:
    fields: dict[str, object] = {
        "id": chunk_id(episode, ordinal),
        "episode_id": episode,
        "ordinal": ordinal,
        "start": ordinal * 10.0,
        "end": ordinal * 10.0 + 9.5,
        "text": text,
        "speakers": ("Lucía Benítez",),
        "language": "es",
        "title": f"Episode {episode}",
        "url": f"https://example.org/{episode}",
        "published": date(2024, 3, 5),
    }
    fields.update(changes)
    return Chunk(**fields)  # type: ignore[arg-type]


CHUNKS = (
    _chunk("ep1", 0, "Colgamos cuarenta sensores en postes de luz en Barracas"),
    _chunk("ep1", 1, "Plantamos tipas con los vecinos", speakers=("Valeria Quiroga", "Nico")),
    _chunk("ep1", 2, "Un techo blanco refleja el sol", speakers=()),
    _chunk("ep2", 0, "La masa madre se llama Doña Rosa", published=date(2024, 4, 2)),
    _chunk("ep2", 1, "Fermenta dieciocho horas en la heladera", published=date(2024, 4, 2)),
    _chunk(
        "ep3",
        0,
        "Green roofs cool the building below",
        language="en",
        speakers=("NICO",),
        published=None,
    ),
    _chunk("ep3", 1, "Sedum plants survive the dry summer", language="en", published=None),
)


def test_empty_collection(make_index: IndexFactory) -> None:
    index = make_index()
    assert index.search("sensores", 5, SearchFilters()) == []
    assert index.count() == 0
    assert index.episode_ids() == set()
    assert not index.has_episode("ep1")
    index.delete_episode("ep1")  # deleting what is not there is fine
    index.upsert([])


def test_collection_is_named_after_the_embedding_space(make_index: IndexFactory) -> None:
    index = make_index(HashEmbedder(dimension=64))
    assert index.collection_name.endswith("__hash-64")
    index.upsert(CHUNKS[:2])
    other = make_index(HashEmbedder(dimension=128))
    assert other.count() == 0  # another space, another collection
    assert index.count() == 2


def test_upsert_is_idempotent_and_replaces_by_id(make_index: IndexFactory) -> None:
    index = make_index()
    index.upsert(CHUNKS)
    index.upsert(CHUNKS)
    index.upsert([CHUNKS[0], CHUNKS[0]])  # duplicates within one call too
    assert index.count() == len(CHUNKS)
    assert index.episode_ids() == {"ep1", "ep2", "ep3"}
    changed = _chunk("ep1", 0, "Sedum plants survive the dry summer in Barracas")
    index.upsert([changed])
    assert index.count() == len(CHUNKS)
    hits = index.search("Colgamos cuarenta sensores en postes de luz", 1, SearchFilters())
    assert hits[0].chunk_id != changed.id


def test_search_ranks_the_matching_chunk_first(make_index: IndexFactory) -> None:
    index = make_index()
    index.upsert(CHUNKS)
    hits = index.search("¿cuántos sensores colgaron en Barracas?", 3, SearchFilters())
    assert hits[0].chunk_id == CHUNKS[0].id
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    exact = index.search(CHUNKS[3].text, 1, SearchFilters())
    assert exact[0].chunk_id == CHUNKS[3].id and exact[0].score == pytest.approx(1.0, abs=1e-5)
    assert len(index.search("masa", 100, SearchFilters())) == len(CHUNKS)
    assert index.search("masa", 0, SearchFilters()) == []
    assert index.search("   ", 5, SearchFilters()) == []


FILTER_CASES = {
    "episodes": SearchFilters(episode_ids=("ep2", "ep3")),
    "language": SearchFilters(languages=("en",)),
    "speaker-any-case": SearchFilters(speakers=("nico",)),
    "speakers-or": SearchFilters(speakers=("valeria quiroga", "Lucía Benítez")),
    "speaker-unknown": SearchFilters(speakers=("nobody",)),
    "date-from": SearchFilters(date_from=date(2024, 4, 1)),
    "date-to": SearchFilters(date_to=date(2024, 3, 5)),
    "range-and-language": SearchFilters(
        date_from=date(2024, 3, 6), date_to=date(2024, 12, 31), languages=("es",)
    ),
    "all-three": SearchFilters(episode_ids=("ep1",), speakers=("Nico",), languages=("es",)),
}


@pytest.mark.parametrize("filters", list(FILTER_CASES.values()), ids=list(FILTER_CASES))
def test_filters_mean_what_search_filters_matches_says(
    make_index: IndexFactory, filters: SearchFilters
) -> None:
    index = make_index()
    index.upsert(CHUNKS)
    hits = index.search("plantas sensores masa roofs", 50, filters)
    assert {h.chunk_id for h in hits} == {c.id for c in CHUNKS if filters.matches(c)}


def test_delete_episode(make_index: IndexFactory) -> None:
    index = make_index()
    index.upsert(CHUNKS)
    assert index.has_episode("ep2")
    index.delete_episode("ep2")
    assert not index.has_episode("ep2")
    assert index.episode_ids() == {"ep1", "ep3"}
    assert index.count() == len(CHUNKS) - 2
    hits = index.search("masa madre Doña Rosa", 50, SearchFilters())
    assert all(not h.chunk_id.startswith("ep2-") for h in hits)


def test_vectors_persist_across_reopen(make_index: IndexFactory) -> None:
    first = make_index()
    first.upsert(CHUNKS)
    first.close()
    again = make_index()
    assert again.count() == len(CHUNKS)
    assert again.search(CHUNKS[4].text, 1, SearchFilters())[0].chunk_id == CHUNKS[4].id


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
        [sys.executable, "-c", script, str(tmp_path), CHUNKS[5].text],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(len(CHUNKS)), CHUNKS[5].id]


def test_concurrent_searches_and_writes(make_index: IndexFactory) -> None:
    index = make_index()
    index.upsert(CHUNKS)
    expected = index.search("tipas vecinos", 3, SearchFilters())
    extra = [_chunk("ep9", i, f"relleno número {i}") for i in range(12)]

    def search(_: int) -> list[str]:
        return [h.chunk_id for h in index.search("tipas vecinos", 3, SearchFilters())][:1]

    with ThreadPoolExecutor(max_workers=8) as pool:
        writer = pool.submit(index.upsert, extra)
        results = list(pool.map(search, range(40)))
        writer.result()
    assert all(r == [expected[0].chunk_id] for r in results)
    assert index.count() == len(CHUNKS) + len(extra)


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
        assert hits[0].chunk_id == CHUNKS[3].id


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
