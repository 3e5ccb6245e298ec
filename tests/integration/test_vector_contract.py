"""The ``VectorIndex`` contract, run against every backend: embedded Chroma, a Chroma server and
the flat index (a SQLite file searched in memory).

Each test gets a fresh, empty store; calling ``open_store()`` again opens another index on the
same store (how reopening is tested). The hash embedder keeps the ranking deterministic: these
tests are about the index, not about the quality of a model. A new backend adds an entry to
``BACKENDS`` and ``SHARED``, and the settings that choose it to ``_settings``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest

from castgraph.core.models import Chunk, chunk_build, chunk_id
from castgraph.core.settings import Settings
from castgraph.retrieval.base import Hit, SearchFilters
from castgraph.retrieval.embeddings.hashing import HashEmbedder
from castgraph.retrieval.vector import ChromaVectorIndex, VectorIndex, vector_index
from castgraph.retrieval.vector.flat import FlatVectorIndex
from tests.chromaserver import chroma_server  # noqa: F401

pytestmark = pytest.mark.integration

OpenStore = Callable[[], VectorIndex]
NO_FILTERS = SearchFilters()


def _embedded(request: pytest.FixtureRequest, tmp_path: Path, name: str) -> OpenStore:
    # batch_size=3: several batches per episode
    return lambda: ChromaVectorIndex(
        HashEmbedder(), path=tmp_path / "chroma", collection=name, batch_size=3
    )


def _server(request: pytest.FixtureRequest, tmp_path: Path, name: str) -> OpenStore:
    url = str(request.getfixturevalue("chroma_server"))  # tests share it: own collections
    return lambda: ChromaVectorIndex(HashEmbedder(), url=url, collection=name, batch_size=3)


def _flat(request: pytest.FixtureRequest, tmp_path: Path, name: str) -> OpenStore:
    return lambda: FlatVectorIndex(
        HashEmbedder(), directory=tmp_path / "vectors", base=name, batch_size=3
    )


BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path, str], OpenStore]] = {
    "chroma": _embedded,
    "chroma-server": _server,
    "flat": _flat,
}


@pytest.fixture(params=sorted(BACKENDS))
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenStore]:
    make = BACKENDS[request.param](request, tmp_path, f"t{uuid.uuid4().hex[:12]}")
    opened: list[VectorIndex] = []

    def open_store() -> VectorIndex:
        opened.append(make().open())
        return opened[-1]

    yield open_store
    for index in opened:
        index.close()


@pytest.fixture
def index(open_store: OpenStore) -> VectorIndex:
    return open_store()


@pytest.fixture
def full(index: VectorIndex) -> VectorIndex:
    index.upsert(CHUNKS)
    return index


def _chunk(episode: str, ordinal: int, text: str, build: int = 0, **changes: object) -> Chunk:
    fields: dict[str, object] = {
        "id": chunk_id(episode, ordinal, build),
        "episode_id": episode,
        "ordinal": ordinal,
        "start": ordinal * 10.0,
        "end": ordinal * 10.0 + 9.5,
        "text": text,
        "speakers": ("Lucía Benítez",),
        "language": "es",
        "title": f"Episodio {episode} — ¿año nuevo?",
        "url": f"https://example.org/{episode}",
        "published": date(2024, 3, 5),
    }
    fields.update(changes)
    return Chunk(**fields)  # type: ignore[arg-type]


CHUNKS = (
    _chunk("ep1", 0, "Colgamos cuarenta sensores en postes de luz en Barracas"),
    _chunk("ep1", 1, "Plantamos tipas con los vecinos", speakers=("Valeria Quiroga", "Nico")),
    _chunk("ep1", 2, "Un techo blanco refleja el sol", speakers=()),
    _chunk("ep2", 0, "La masa madre se llama Doña Rosa 🍞", published=date(2024, 4, 2)),
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


def ids(hits: list[Hit]) -> list[str]:
    return [h.chunk_id for h in hits]


def test_empty_index(index: VectorIndex) -> None:
    assert index.search("sensores", 5, NO_FILTERS) == []
    assert index.count() == 0
    assert index.episode_ids() == set()
    assert index.chunk_ids("ep1") == set()
    assert not index.has_episode("ep1")
    index.delete_episode("ep1")  # removing what is not there is fine
    index.delete_chunks([])
    index.delete_chunks([chunk_id("ep1", 0)])
    index.upsert([])
    assert index.count() == 0


def test_upsert_by_id_replaces(full: VectorIndex) -> None:
    full.upsert(CHUNKS)
    full.upsert([CHUNKS[0], CHUNKS[0]])  # duplicates within one call too
    assert full.count() == len(CHUNKS)
    assert full.episode_ids() == {"ep1", "ep2", "ep3"}
    changed = _chunk("ep1", 0, "Sedum plants survive the dry summer in Barracas")
    full.upsert([changed])
    assert full.count() == len(CHUNKS)
    assert full.chunk_ids("ep1") == {c.id for c in CHUNKS if c.episode_id == "ep1"}
    assert ids(full.search(changed.text, 1, NO_FILTERS)) == [changed.id]
    old = full.search(CHUNKS[0].text, 1, NO_FILTERS)[0]
    assert not (old.chunk_id == changed.id and old.score > 0.99)  # the old vector is gone


def test_search_ranks_the_relevant_chunk_first(full: VectorIndex) -> None:
    hits = full.search("¿cuántos sensores colgaron en Barracas?", 3, NO_FILTERS)
    assert hits[0].chunk_id == CHUNKS[0].id
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    exact = full.search(CHUNKS[4].text, 1, NO_FILTERS)
    assert ids(exact) == [CHUNKS[4].id] and exact[0].score == pytest.approx(1.0, abs=1e-5)
    assert len(full.search("masa", 2, NO_FILTERS)) == 2
    assert len(full.search("masa", 100, NO_FILTERS)) == len(CHUNKS)
    assert full.search("masa", 0, NO_FILTERS) == []
    assert full.search("   ", 5, NO_FILTERS) == []


def test_unicode_and_spanish_text(full: VectorIndex) -> None:
    # Accents, ñ, inverted marks and emoji go in and come back out as the same chunk.
    assert ids(full.search("¿Cómo se llama la masa madre? Doña Rosa 🍞", 1, NO_FILTERS)) == [
        CHUNKS[3].id
    ]
    accented = _chunk(
        "ñu", 0, "Ñandúes y pingüinos: ¡qué año! 日本語 too", speakers=("Ñoño Pérez",)
    )
    full.upsert([accented])
    assert full.chunk_ids("ñu") == {accented.id}
    assert ids(full.search("ñandúes pingüinos", 1, NO_FILTERS)) == [accented.id]
    found = full.search("masa", 10, SearchFilters(speakers=("ÑOÑO PÉREZ",)))
    assert ids(found) == [accented.id]


FILTER_CASES = {
    "episodes": SearchFilters(episode_ids=("ep2", "ep3")),
    "unknown-episode": SearchFilters(episode_ids=("nope",)),
    "language": SearchFilters(languages=("en",)),
    "speaker-any-case": SearchFilters(speakers=("nico",)),
    "speaker-accents-upper": SearchFilters(speakers=("LUCÍA BENÍTEZ",)),
    "speakers-or": SearchFilters(speakers=("valeria quiroga", "Lucía Benítez")),
    "speaker-unknown": SearchFilters(speakers=("nobody",)),
    "date-from": SearchFilters(date_from=date(2024, 4, 1)),
    "date-to": SearchFilters(date_to=date(2024, 3, 5)),
    "one-day": SearchFilters(date_from=date(2024, 4, 2), date_to=date(2024, 4, 2)),
    "range-and-language": SearchFilters(
        date_from=date(2024, 3, 6), date_to=date(2024, 12, 31), languages=("es",)
    ),
    "all-three": SearchFilters(episode_ids=("ep1",), speakers=("Nico",), languages=("es",)),
}


@pytest.mark.parametrize("filters", list(FILTER_CASES.values()), ids=list(FILTER_CASES))
def test_filters_mean_what_search_filters_matches_says(
    full: VectorIndex, filters: SearchFilters
) -> None:
    hits = full.search("plantas sensores masa roofs", 50, filters)
    assert set(ids(hits)) == {c.id for c in CHUNKS if filters.matches(c)}


def test_delete_episode(full: VectorIndex) -> None:
    assert full.has_episode("ep2")
    full.delete_episode("ep2")
    assert not full.has_episode("ep2")
    assert full.chunk_ids("ep2") == set()
    assert full.episode_ids() == {"ep1", "ep3"}
    assert full.count() == len(CHUNKS) - 2
    assert all(not i.startswith("ep2-") for i in ids(full.search("masa madre", 50, NO_FILTERS)))


def test_chunk_ids_and_delete_chunks_across_builds(full: VectorIndex) -> None:
    # A re-process stages build 1 beside the live build 0, then the old build's chunks go.
    staged = [
        _chunk("ep1", i, f"{c.text} (segunda versión)", build=1) for i, c in enumerate(CHUNKS[:2])
    ]
    full.upsert(staged)
    old = {c.id for c in CHUNKS if c.episode_id == "ep1"}
    assert full.chunk_ids("ep1") == old | {c.id for c in staged}
    assert {chunk_build(i) for i in full.chunk_ids("ep1")} == {0, 1}
    full.delete_chunks([*sorted(old), "unknown-chunk"])
    assert full.chunk_ids("ep1") == {c.id for c in staged}
    assert full.chunk_ids("ep2") == {CHUNKS[3].id, CHUNKS[4].id}  # other episodes untouched
    assert full.count() == len(CHUNKS) - len(old) + len(staged)
    hits = full.search(
        "sensores postes tipas vecinos techo", 50, SearchFilters(episode_ids=("ep1",))
    )
    assert set(ids(hits)) == {c.id for c in staged}


def test_reopening_persists(open_store: OpenStore) -> None:
    first = open_store()
    first.upsert(CHUNKS)
    first.close()
    again = open_store()
    assert again.count() == len(CHUNKS)
    assert again.episode_ids() == {"ep1", "ep2", "ep3"}
    assert ids(again.search(CHUNKS[4].text, 1, NO_FILTERS)) == [CHUNKS[4].id]


def test_searches_run_during_a_write(full: VectorIndex) -> None:
    expected = ids(full.search("tipas vecinos", 1, NO_FILTERS))
    extra = [_chunk("ep9", i, f"relleno número {i}") for i in range(12)]

    def search(_: int) -> list[str]:
        return ids(full.search("tipas vecinos", 1, NO_FILTERS))

    with ThreadPoolExecutor(max_workers=8) as pool:
        writer = pool.submit(full.upsert, extra)
        results = list(pool.map(search, range(40)))
        writer.result()
    assert all(r == expected for r in results)
    assert full.count() == len(CHUNKS) + len(extra)


def _settings(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> Settings:
    """The settings that choose ``backend`` (as the server reads them from the environment)."""
    if backend == "chroma-server":
        url = str(request.getfixturevalue("chroma_server"))
        return Settings(data_dir=tmp_path, chroma_url=url, vector_backend="chroma-server")
    return Settings(data_dir=tmp_path, vector_backend=backend)  # type: ignore[arg-type]


SHARED = {"chroma": False, "chroma-server": True, "flat": False}
FILES = {"chroma": "chroma", "chroma-server": None, "flat": "vectors"}  # a server keeps none


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_the_factory_builds_the_backend_settings_choose(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    embedder = HashEmbedder()
    embedder.name = f"hash-{uuid.uuid4().hex[:8]}"  # its own collection on the shared server
    index = vector_index(_settings(request, tmp_path, backend), embedder)
    assert index.shared is SHARED[backend]
    opened = index.open()
    try:
        opened.upsert(CHUNKS[:2])
        assert ids(opened.search(CHUNKS[1].text, 1, NO_FILTERS)) == [CHUNKS[1].id]
    finally:
        opened.close()
    for folder in ("chroma", "vectors"):
        assert (tmp_path / folder).exists() is (FILES[backend] == folder)
