"""The flat vector index's matrix: candidates by one-bit codes find what exact search finds,
refreshes keep exactly the live rows, and a read-only reader follows the writer's file.

The contract suite (tests/integration/test_vector_contract.py) runs the backend through the
port on a handful of chunks, all scored exactly; these tests force the code path of a big
channel (candidates by codes) with small thresholds.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from castgraph.core.errors import StorageError
from castgraph.core.models import Chunk, chunk_id
from castgraph.retrieval.base import SearchFilters
from castgraph.retrieval.embeddings.hashing import HashEmbedder
from castgraph.retrieval.vector import _matrix, flat
from castgraph.retrieval.vector._matrix import Matrix, Row, unit
from castgraph.retrieval.vector.flat import FlatVectorIndex

DIM = 130  # not a multiple of 64: the codes are padded


def _rows(vectors: np.ndarray, start: int = 1) -> list[Row]:
    return [
        Row(
            row=start + i,
            chunk_id=f"c{start + i}",
            episode_id=f"ep{(start + i) % 7}",
            language="es" if i % 3 else "en",
            speakers=("ana",) if i % 2 else ("ana", "bruno"),
            day=20240101 + i % 28 if i % 5 else 0,
        )
        for i in range(len(vectors))
    ]


def _clustered(n: int, seed: int = 0) -> np.ndarray:
    """A tight crowd around one direction plus a few rows far from it (the case HNSW misses)."""
    rng = np.random.default_rng(seed)
    centre = rng.normal(size=DIM)
    crowd = centre + 0.35 * rng.normal(size=(n - 10, DIM))
    apart = rng.normal(size=(10, DIM))
    return unit(np.vstack([crowd, apart]))


def centred_cosines(vectors: np.ndarray, query: np.ndarray) -> np.ndarray:
    """The documented score, written plainly: the cosine of each row and the query after
    subtracting the rows' mean shrunk by n / (n + dimension)."""
    n, dimension = vectors.shape
    centre = vectors.mean(axis=0) * n / (n + dimension)
    rows, q = vectors - centre, query - centre
    return np.asarray((rows @ q) / (np.linalg.norm(rows, axis=1) * np.linalg.norm(q)))


def _exact(vectors: np.ndarray, query: np.ndarray, k: int, allowed: np.ndarray) -> list[int]:
    scores = np.where(allowed, centred_cosines(vectors, query), -np.inf)
    order = np.argsort(-scores, kind="stable")[:k]
    return [int(i) for i in order if scores[i] != -np.inf]


@pytest.fixture
def small_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_matrix, "EXACT_UP_TO", 100)
    monkeypatch.setattr(_matrix, "CANDIDATES", 300)


FILTERS = [
    SearchFilters(),
    SearchFilters(episode_ids=("ep1", "ep3")),
    SearchFilters(languages=("en",)),
    SearchFilters(speakers=("BRUNO",)),
    SearchFilters(date_from=date(2024, 1, 10), date_to=date(2024, 1, 20)),
]


@pytest.mark.parametrize("filters", FILTERS)
@pytest.mark.usefixtures("small_thresholds")
def test_candidates_by_codes_find_the_nearest_rows(filters: SearchFilters) -> None:
    vectors = _clustered(3000)
    rows = _rows(vectors)
    matrix = Matrix.of(rows, vectors)
    allowed = np.array([_passes(r, filters) for r in rows])
    rng = np.random.default_rng(1)
    # Queries near rows far from the crowd (what a graph index misses) and near crowd rows.
    targets = [i for i in [*range(2990, 3000), *rng.integers(0, 2990, 30).tolist()] if allowed[i]]
    assert len(targets) >= 5
    for target in targets:
        query = unit(vectors[target] + 0.01 * rng.normal(size=DIM))
        expected = [f"c{i + 1}" for i in _exact(vectors, query, 10, allowed)]
        got = matrix.search(query, 10, filters)
        assert got[0][0] == expected[0] == f"c{target + 1}"
        assert all(_passes(r, filters) for r in rows if r.chunk_id in dict(got))
        assert len(got) == len(expected)


def _passes(row: Row, filters: SearchFilters) -> bool:
    chunk = Chunk(
        id=row.chunk_id,
        episode_id=row.episode_id,
        ordinal=0,
        start=0.0,
        end=1.0,
        text="x",
        title="t",
        url="u",
        speakers=row.speakers,
        language=row.language,
        published=date(row.day // 10000, row.day // 100 % 100, row.day % 100) if row.day else None,
    )
    return filters.matches(chunk)


def test_scores_are_exact_cosines_about_the_centre_best_first() -> None:
    vectors = _clustered(200)
    matrix = Matrix.of(_rows(vectors), vectors)
    hits = matrix.search(vectors[7], 5, SearchFilters())
    assert hits[0] == ("c8", pytest.approx(1.0, abs=1e-5))
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True)
    expected = centred_cosines(vectors, vectors[7])
    by_id = {f"c{i + 1}": float(score) for i, score in enumerate(expected)}
    assert all(s == pytest.approx(by_id[i], abs=1e-5) for i, s in hits)


@pytest.mark.parametrize("by_codes", [False, True])
def test_a_crowd_near_the_centre_does_not_bury_the_row_that_answers(
    by_codes: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows sharing one strong direction (a channel's many episodes on a topic, and the model's
    own bias) all score high by plain cosine against any query that has some of it; about the
    centre, the one row whose own direction the query shares comes first, scored exactly or
    among candidates by codes."""
    if by_codes:
        monkeypatch.setattr(_matrix, "EXACT_UP_TO", 100)
        monkeypatch.setattr(_matrix, "CANDIDATES", 300)
    rng = np.random.default_rng(3)
    common, own = unit(rng.normal(size=(2, DIM)))
    own = unit(own - (own @ common) * common)  # a direction no crowd row has
    crowd = unit(common + 0.06 * rng.normal(size=(3000, DIM)))
    answer = unit(0.3 * common + own)
    vectors = np.vstack([crowd, answer[None, :]]).astype(np.float32)
    query = unit(0.9 * common + 0.35 * own + 0.01 * rng.normal(size=DIM))
    plain = np.argsort(-(vectors @ query))
    assert int(np.flatnonzero(plain == 3000)[0]) >= 1000  # plain cosine buries it
    hits = Matrix.of(_rows(vectors), vectors).search(query, 5, SearchFilters())
    assert hits[0][0] == "c3001"


def test_a_zero_row_or_query_scores_zero_as_under_plain_cosine() -> None:
    """A model that embeds nothing gives a zero vector: it has no direction, so no offset from
    the centre may lend it one (cos(-c, q - c) would rank it among the best)."""
    vectors = _clustered(50)
    vectors[3] = 0.0
    matrix = Matrix.of(_rows(vectors), vectors)
    query = unit(-vectors[:40].mean(axis=0))  # pointing away from the crowd, as -c does
    hits = dict(matrix.search(query, 50, SearchFilters()))
    assert hits["c4"] == 0.0 and max(hits.values()) > 0.0
    assert [s for _, s in matrix.search(np.zeros(DIM, np.float32), 3, SearchFilters())] == [0.0] * 3


def test_refresh_keeps_exactly_the_live_rows() -> None:
    vectors = _clustered(500)
    matrix = Matrix.of(_rows(vectors[:300]), vectors[:300])
    live = np.array([r for r in range(1, 301) if r % 4], dtype=np.int64)
    added = _rows(vectors[300:], start=301)
    after = matrix.refreshed(np.concatenate([live, np.arange(301, 501)]), added, vectors[300:])
    assert after.rows.tolist() == [*live.tolist(), *range(301, 501)]
    assert after.ids == [f"c{r}" for r in after.rows.tolist()]
    assert np.array_equal(after.vectors, vectors[after.rows - 1])
    nothing = np.zeros((0, DIM), np.float32)
    assert after.refreshed(after.rows, [], nothing) is after  # nothing moved: the same matrix
    assert len(matrix) == 300  # the old one is untouched for searches in flight


def test_empty_and_fully_filtered() -> None:
    assert Matrix.empty(DIM).search(np.ones(DIM, np.float32), 5, SearchFilters()) == []
    vectors = _clustered(50)
    matrix = Matrix.of(_rows(vectors), vectors)
    assert matrix.search(unit(np.ones(DIM)), 5, SearchFilters(episode_ids=("none",))) == []
    assert matrix.search(unit(np.ones(DIM)), 0, SearchFilters()) == []


def _chunk(episode: str, ordinal: int, text: str) -> Chunk:
    return Chunk(
        id=chunk_id(episode, ordinal),
        episode_id=episode,
        ordinal=ordinal,
        start=float(ordinal),
        end=ordinal + 1.0,
        text=text,
        title="t",
        url="u",
        speakers=("Ana",),
        language="es",
    )


def test_a_read_only_reader_follows_the_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(flat, "READ_BATCH", 1)  # loads span several batches of rows
    reader = FlatVectorIndex(HashEmbedder(), directory=tmp_path, read_only=True).open()
    assert reader.search("pan", 5, SearchFilters()) == []  # no file yet: empty, not an error
    assert reader.count() == 0
    writer = FlatVectorIndex(HashEmbedder(), directory=tmp_path).open()
    try:
        writer.upsert([_chunk("a", 0, "pan de masa madre"), _chunk("a", 1, "tren al puerto")])
        assert [h.chunk_id for h in reader.search("masa madre", 1, SearchFilters())] == [
            chunk_id("a", 0)
        ]
        writer.upsert([_chunk("b", 0, "masa madre y harina integral")])
        writer.delete_chunks([chunk_id("a", 0)])
        hits = reader.search("masa madre", 5, SearchFilters())
        assert {h.chunk_id for h in hits} == {chunk_id("a", 1), chunk_id("b", 0)}
        fresh = FlatVectorIndex(HashEmbedder(), directory=tmp_path, read_only=True).open()
        try:  # a first load of two rows, one batch each: each vector with its own row
            for text, cid in (("tren al puerto", chunk_id("a", 1)), ("harina", chunk_id("b", 0))):
                assert fresh.search(text, 1, SearchFilters())[0].chunk_id == cid
                assert fresh.search(text, 1, SearchFilters()) == reader.search(
                    text, 1, SearchFilters()
                )
        finally:
            fresh.close()
        with pytest.raises(StorageError, match="read-only"):
            reader.upsert([_chunk("c", 0, "nada")])
        with pytest.raises(StorageError, match="read-only"):
            reader.delete_episode("a")
        assert writer.count() == 2
    finally:
        reader.close()
        writer.close()


def test_a_corrupt_file_says_what_to_do(tmp_path: Path) -> None:
    index = FlatVectorIndex(HashEmbedder(), directory=tmp_path).open()
    index.upsert([_chunk("a", 0, "pan de masa madre")])
    path = next(tmp_path.glob("*.sqlite"))
    index.close()
    path.write_bytes(b"not a database, " * 512)
    reader = FlatVectorIndex(HashEmbedder(), directory=tmp_path, read_only=True).open()
    try:
        with pytest.raises(StorageError, match=r"delete it and run `castgraph reindex`"):
            reader.search("masa madre", 5, SearchFilters())
    finally:
        reader.close()
