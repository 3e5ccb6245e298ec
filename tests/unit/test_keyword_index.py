"""What only the SQLite FTS5 keyword index has (the port's contract is test_keyword_contract.py)."""

from __future__ import annotations

import gc
import random
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from castgraph.core.errors import StorageError
from castgraph.core.models import Chunk, chunk_id
from castgraph.retrieval.base import Hit, SearchFilters
from castgraph.retrieval.keyword import SqliteKeywordIndex, analyze, filtered

NO_FILTERS = SearchFilters()


def make_chunk(
    episode: str,
    ordinal: int,
    text: str,
    *,
    speakers: tuple[str, ...] = ("Ana",),
    language: str = "es",
    published: date | None = date(2024, 5, 1),
) -> Chunk:
    return Chunk(
        id=chunk_id(episode, ordinal),
        episode_id=episode,
        ordinal=ordinal,
        start=ordinal * 30.0,
        end=ordinal * 30.0 + 29.5,
        text=text,
        speakers=speakers,
        language=language,
        title=f"Episodio {episode}",
        url=f"https://www.youtube.com/watch?v={episode}",
        published=published,
    )


CORPUS = [
    make_chunk("ep1", 0, "Hablamos de la inflación en Argentina y del precio del pan."),
    make_chunk("ep1", 1, "Las canciones de Shakira sonaron en el verano.", speakers=("Ángel",)),
    make_chunk("ep1", 2, "La inflación, la inflación: nadie entiende la inflación.", speakers=()),
    make_chunk(
        "ep2",
        0,
        "We talked about running shoes and marathon training.",
        speakers=("Bob", "Ana"),
        language="en",
        published=date(2023, 1, 10),
    ),
    make_chunk(
        "ep2",
        1,
        "Inflation in Europe hurt bread prices.",
        speakers=("Bob",),
        language="en",
        published=date(2023, 1, 10),
    ),
    make_chunk("ep3", 0, "Una canción sobre la inflación.", published=None, speakers=("ana",)),
]


@pytest.fixture
def index(tmp_path: Path) -> Iterator[SqliteKeywordIndex]:
    with SqliteKeywordIndex(tmp_path / "data" / "keyword.db") as idx:
        yield idx


@pytest.fixture
def full(index: SqliteKeywordIndex) -> SqliteKeywordIndex:
    index.add(CORPUS)
    return index


def ids(hits: list[Hit]) -> list[str]:
    return [h.chunk_id for h in hits]


def test_add_is_idempotent(full: SqliteKeywordIndex) -> None:
    before = full.search("inflación", 10, NO_FILTERS)
    full.add(CORPUS)
    full.add(CORPUS[:2])
    assert full.count() == len(CORPUS)
    after = full.search("inflación", 10, NO_FILTERS)
    assert ids(after) == ids(before)
    assert [h.score for h in after] == pytest.approx([h.score for h in before])


def test_replace_episode_drops_stale_chunks(full: SqliteKeywordIndex) -> None:
    fresh = [make_chunk("ep1", 0, "Solo queda este fragmento sobre ballenas.")]
    full.replace_episode("ep1", fresh)
    assert full.chunks_of("ep1") == fresh
    assert full.count() == len(CORPUS) - 2


def test_term_statistics_follow_writes(full: SqliteKeywordIndex) -> None:
    full.add(CORPUS[:3])
    full.delete_episode("ep2")
    full.add([make_chunk("ep1", 1, "Otro texto distinto.")])
    conn = sqlite3.connect(full.path)
    stored = dict(conn.execute("SELECT term, df FROM term_df").fetchall())
    docs, tokens = conn.execute("SELECT docs, tokens FROM totals").fetchone()
    live = [analyze(c.text, c.language) for c in full.get([c.id for c in CORPUS]).values()]
    conn.close()
    assert stored == Counter(t for terms in live for t in set(terms))
    assert (docs, tokens) == (len(live), sum(len(t) for t in live))


def test_stale_analyzer_version_rebuilds_terms(tmp_path: Path) -> None:
    path = tmp_path / "kw.db"
    with SqliteKeywordIndex(path) as idx:
        idx.add(CORPUS)
        expected = idx.search("inflación canción", 5, NO_FILTERS)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE meta SET value = 'old' WHERE key = 'analyzer'")
        conn.execute("DELETE FROM chunk_terms")
    conn.close()
    with SqliteKeywordIndex(path) as idx:
        assert idx.search("inflación canción", 5, NO_FILTERS) == expected


def test_pruned_search_rescores_like_fts5(
    index: SqliteKeywordIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(7)
    common = ["gente", "cosa", "tiempo", "mundo", "vida"]
    chunks = [
        make_chunk("p", i, " ".join([*rng.choices(common, k=rng.randint(3, 30)), "zorro"]))
        for i in range(60)
    ]
    index.add(chunks)
    query = "zorro gente mundo"
    spanish = SearchFilters(languages=("es",))  # every chunk: FTS5 ranks (filters), not postings
    exact = index.search(query, 10, spanish)
    assert ids(exact) == ids(index.search(query, 10, NO_FILTERS))
    monkeypatch.setattr(filtered, "CANDIDATE_BUDGET", 0)  # rank "zorro" only, then re-score
    pruned = index.search(query, 10, spanish)
    assert [h.score for h in pruned] == pytest.approx([h.score for h in exact], rel=1e-9)
    assert ids(pruned) == ids(exact)


def test_pruned_search_falls_back_when_rare_terms_run_dry(
    full: SqliteKeywordIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(filtered, "CANDIDATE_BUDGET", 0)
    hits = full.search("Shakira inflación", 4, SearchFilters(languages=("es", "en")))
    assert len(hits) == 4
    assert hits[0].chunk_id == chunk_id("ep1", 1)


def test_use_before_open_is_a_storage_error(tmp_path: Path) -> None:
    idx = SqliteKeywordIndex(tmp_path / "kw.db")
    with pytest.raises(StorageError, match="open"):
        idx.search("inflación", 5, NO_FILTERS)


def test_unusable_path_is_a_storage_error(tmp_path: Path) -> None:
    directory = tmp_path / "is-a-dir"
    directory.mkdir()
    with pytest.raises(StorageError, match="keyword index") as info:
        SqliteKeywordIndex(directory).open()
    assert info.value.__cause__ is not None


def test_corrupt_file_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "kw.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError, match="reindex"):
        SqliteKeywordIndex(path).open()


def test_connections_of_finished_threads_are_released(full: SqliteKeywordIndex) -> None:
    # A threadpool retires idle workers; their connections must not pile up until close().
    for _ in range(30):
        t = threading.Thread(target=full.search, args=("inflación", 3, NO_FILTERS))
        t.start()
        t.join()
    gc.collect()
    assert len(full._conns) <= 2  # this thread's, plus at most one not yet collected


def test_other_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "kw.db"
    with SqliteKeywordIndex(path):
        pass
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE meta SET value = '999' WHERE key = 'schema'")
    conn.close()
    with pytest.raises(StorageError, match="reindex"):
        SqliteKeywordIndex(path).open()


def _bytes(path: Path) -> dict[str, bytes]:
    """The database and its write-ahead log (the shared-memory index is not data)."""
    files = (path, path.with_name(path.name + "-wal"))
    return {f.name: f.read_bytes() for f in files if f.exists()}


def test_read_only_index_beside_a_writer_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "kw.db"
    with SqliteKeywordIndex(path) as writer:
        writer.add(CORPUS)
        expected = writer.search("inflación", 5, NO_FILTERS)
        conn = sqlite3.connect(path)  # an analyzer change a writable open would act on
        with conn:
            conn.execute("UPDATE meta SET value = 'old' WHERE key = 'analyzer'")
        conn.close()
        before = _bytes(path)
        with SqliteKeywordIndex(path, read_only=True) as reader:
            assert reader.search("inflación", 5, NO_FILTERS) == expected
            assert reader.count() == len(CORPUS)
            with pytest.raises(StorageError, match="read-only"):
                reader.add(CORPUS[:1])
            with pytest.raises(StorageError, match="read-only"):
                reader.delete_episode("ep1")
        assert _bytes(path) == before


def test_read_only_index_of_no_file_is_empty_and_creates_none(tmp_path: Path) -> None:
    path = tmp_path / "data" / "kw.db"
    with SqliteKeywordIndex(path, read_only=True) as reader:
        assert reader.search("inflación", 5, NO_FILTERS) == []
        assert reader.count() == 0 and reader.episode_ids() == set()
    assert not path.parent.exists()


def _fts5_ranking(index: SqliteKeywordIndex, query: str, k: int) -> list[tuple[str, float]]:
    """FTS5's own ranking with every query term (what the postings path must reproduce)."""
    from castgraph.retrieval.keyword import schema
    from castgraph.retrieval.keyword.analyzer import query_terms

    conn = sqlite3.connect(index.path)
    sql, match = schema.rank_sql(""), schema.match_expression(query_terms(query))
    rows = conn.execute(sql, [match, k]).fetchall()
    conn.close()
    return [(str(r[1]), float(r[2])) for r in rows]


def test_unfiltered_search_ranks_exactly_as_fts5(index: SqliteKeywordIndex) -> None:
    rng = random.Random(11)
    words = ["gente", "cosa", "tiempo", "mundo", "vida", "zorro", "lobo", "río", "sol", "mar"]
    chunks = [  # long chunks too: sizes over 127 terms take two varint bytes in FTS5's docsize
        make_chunk(f"e{i % 7}", i, " ".join(rng.choices(words[: rng.randint(2, 10)], k=n)))
        for i, n in enumerate(rng.choice([1, 3, 8, 40, 130, 300]) for _ in range(120))
    ]
    index.add(chunks)
    index.delete_chunks([c.id for c in chunks[::9]])  # holes in the rowids
    for query in ["zorro", "gente mundo", "río sol mar lobo", "vida vida cosa", "mar gente zorro"]:
        expected = _fts5_ranking(index, query, 25)
        found = index.search(query, 25, NO_FILTERS)
        assert [(h.chunk_id, h.score) for h in found] == expected  # ties by rowid, same floats


def test_cached_postings_follow_every_write(tmp_path: Path) -> None:
    path = tmp_path / "kw.db"
    with SqliteKeywordIndex(path) as writer, SqliteKeywordIndex(path, read_only=True) as reader:
        writer.add(CORPUS)
        for idx in (writer, reader):  # the reader stands for another process (castgraph serve)
            assert ids(idx.search("inflación", 10, NO_FILTERS)) == ids(
                idx.search("inflación", 10, SearchFilters(languages=("es", "en")))
            )
        fresh = make_chunk("ep9", 0, "Inflación, inflación y más inflación en la radio.")
        writer.add([fresh])
        writer.delete_episode("ep3")
        writer.replace_episode("ep1", [make_chunk("ep1", 5, "Ya no se habla de precios.")])
        for idx in (writer, reader):
            found = idx.search("inflación", 10, NO_FILTERS)
            assert ids(found)[0] == fresh.id
            assert ids(found) == [fresh.id]  # the other chunks naming it are gone
            assert [(h.chunk_id, h.score) for h in found] == _fts5_ranking(idx, "inflación", 10)


def test_a_failed_postings_read_leaves_the_connection_usable(
    full: SqliteKeywordIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    from castgraph.retrieval.keyword import postings

    expected = full.search("inflación", 5, NO_FILTERS)
    monkeypatch.setattr(postings, "VOCAB", "no_such_table")
    full._postings = postings.PostingsScorer()  # nothing cached: the read must happen
    with pytest.raises(StorageError, match="keyword index"):
        full.search("inflación", 5, NO_FILTERS)
    monkeypatch.undo()
    assert full.search("inflación", 5, NO_FILTERS) == expected  # no transaction left open


def test_warming_reads_the_frequent_terms_ahead_and_ranks_alike(tmp_path: Path) -> None:
    path = tmp_path / "kw.db"
    with SqliteKeywordIndex(path) as writer:
        writer.add(CORPUS)
        expected = {q: writer.search(q, 10, NO_FILTERS) for q in ("inflación", "radio precios")}
    with SqliteKeywordIndex(path, read_only=True) as reader:
        reader.warm()
        held = reader._postings._current
        assert held is not None and held.size > 0 and len(held.postings) > 1
        terms = set(held.postings)
        for query, hits in expected.items():
            assert reader.search(query, 10, NO_FILTERS) == hits
        assert reader._postings._current is held
        # The searches read only terms the index does not hold (empty postings).
        assert all(len(held.postings[t][0]) == 0 for t in set(held.postings) - terms)
        assert "inflacion" in terms or any(t.startswith("inflac") for t in terms)


def test_warming_stops_at_half_the_postings_budget(tmp_path: Path) -> None:
    from castgraph.retrieval.keyword.postings import PostingsScorer

    path = tmp_path / "kw.db"
    with SqliteKeywordIndex(path) as index:
        index.add(CORPUS)
        index._postings = PostingsScorer(max_postings=4)
        index.warm()
        held = index._postings._current
        vocabulary = index._fetch("read", "SELECT count(*) FROM term_df")[0][0]
        assert held is not None and held.size >= 2
        assert 0 < len(held.postings) < vocabulary  # it stopped before reading every term
