"""The SQLite FTS5 keyword index: storage, idempotency, filters, ranking, hostile queries."""

from __future__ import annotations

import gc
import itertools
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
from castgraph.retrieval.base import Hit, Retriever, SearchFilters
from castgraph.retrieval.keyword import KeywordIndex, analyze, query_terms, sqlite_fts

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
def index(tmp_path: Path) -> Iterator[KeywordIndex]:
    with KeywordIndex(tmp_path / "data" / "keyword.db") as idx:
        yield idx


@pytest.fixture
def full(index: KeywordIndex) -> KeywordIndex:
    index.add(CORPUS)
    return index


def ids(hits: list[Hit]) -> list[str]:
    return [h.chunk_id for h in hits]


def test_is_a_retriever(full: KeywordIndex) -> None:
    retriever: Retriever = full
    assert retriever.search("inflación", 3, NO_FILTERS)


def test_get_round_trips_every_field(full: KeywordIndex) -> None:
    got = full.get([c.id for c in CORPUS])
    assert got == {c.id: c for c in CORPUS}


def test_get_skips_missing_and_duplicate_ids_and_handles_batches(index: KeywordIndex) -> None:
    chunks = [make_chunk("big", i, f"palabra{i} texto") for i in range(1200)]
    index.add(chunks)
    wanted = [c.id for c in chunks[::7]] + ["nope", chunks[0].id]
    got = index.get(wanted)
    assert set(got) == {c.id for c in chunks[::7]}
    assert len(index.get([c.id for c in chunks])) == 1200
    assert index.get([]) == {}


def test_chunks_of_is_ordered_by_ordinal(index: KeywordIndex) -> None:
    chunks = [make_chunk("ep9", i, f"texto {i}") for i in range(10)]
    shuffled = chunks[:]
    random.Random(3).shuffle(shuffled)
    index.add(shuffled)
    assert index.chunks_of("ep9") == chunks
    assert index.chunks_of("missing") == []


def test_add_is_idempotent(full: KeywordIndex) -> None:
    before = full.search("inflación", 10, NO_FILTERS)
    full.add(CORPUS)
    full.add(CORPUS[:2])
    assert full.count() == len(CORPUS)
    after = full.search("inflación", 10, NO_FILTERS)
    assert ids(after) == ids(before)
    assert [h.score for h in after] == pytest.approx([h.score for h in before])


def test_upsert_is_add(index: KeywordIndex) -> None:
    index.upsert(CORPUS)
    index.upsert(CORPUS)
    assert index.count() == len(CORPUS)


def test_re_adding_a_chunk_replaces_its_text(full: KeywordIndex) -> None:
    changed = make_chunk("ep1", 1, "Ahora hablamos de ballenas azules.")
    full.add([changed])
    assert full.count() == len(CORPUS)
    assert ids(full.search("ballenas", 5, NO_FILTERS)) == [changed.id]
    assert changed.id not in ids(full.search("Shakira", 5, NO_FILTERS))
    assert full.get([changed.id])[changed.id] == changed


def test_delete_episode(full: KeywordIndex) -> None:
    assert full.has_episode("ep1")
    assert full.episode_ids() == {"ep1", "ep2", "ep3"}
    full.delete_episode("ep1")
    full.delete_episode("never-indexed")
    assert not full.has_episode("ep1")
    assert full.episode_ids() == {"ep2", "ep3"}
    assert full.count() == len(CORPUS) - 3
    assert all(not i.startswith("ep1-") for i in ids(full.search("inflación", 10, NO_FILTERS)))


def test_replace_episode_drops_stale_chunks(full: KeywordIndex) -> None:
    fresh = [make_chunk("ep1", 0, "Solo queda este fragmento sobre ballenas.")]
    full.replace_episode("ep1", fresh)
    assert full.chunks_of("ep1") == fresh
    assert full.count() == len(CORPUS) - 2


def test_term_statistics_follow_writes(full: KeywordIndex) -> None:
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


def test_specific_chunk_ranks_first(full: KeywordIndex) -> None:
    hits = full.search("inflación", 10, NO_FILTERS)
    assert hits[0].chunk_id == chunk_id("ep1", 2)  # says it three times in a short chunk
    assert all(a.score >= b.score > 0 for a, b in itertools.pairwise(hits))
    top = full.search("canciones de Shakira", 3, NO_FILTERS)
    assert top[0].chunk_id == chunk_id("ep1", 1)


def test_query_in_either_language_finds_both(full: KeywordIndex) -> None:
    assert chunk_id("ep2", 0) in ids(full.search("corriendo running", 5, NO_FILTERS))
    assert chunk_id("ep2", 1) in ids(full.search("inflation", 5, NO_FILTERS))
    songs = {chunk_id("ep1", 1), chunk_id("ep3", 0)}
    assert set(ids(full.search("cancion", 5, NO_FILTERS))) == songs


def test_k_limits_results(full: KeywordIndex) -> None:
    assert len(full.search("inflación", 2, NO_FILTERS)) == 2
    assert full.search("inflación", 0, NO_FILTERS) == []


@pytest.mark.parametrize(
    "filters",
    [
        SearchFilters(episode_ids=("ep1",)),
        SearchFilters(episode_ids=("ep2", "ep3")),
        SearchFilters(speakers=("ana",)),
        SearchFilters(speakers=("ÁNGEL", "bob")),
        SearchFilters(languages=("en",)),
        SearchFilters(date_from=date(2024, 1, 1)),
        SearchFilters(date_to=date(2023, 12, 31)),
        SearchFilters(date_from=date(2023, 1, 10), date_to=date(2023, 1, 10)),
        SearchFilters(episode_ids=("ep1", "ep3"), speakers=("Ana",), languages=("es",)),
        SearchFilters(episode_ids=("nope",)),
    ],
)
def test_filters_match_search_filters_semantics(full: KeywordIndex, filters: SearchFilters) -> None:
    query = "inflación inflation canción running"
    terms = set(query_terms(query))
    expected = {
        c.id for c in CORPUS if filters.matches(c) and terms & set(analyze(c.text, c.language))
    }
    assert set(ids(full.search(query, 50, filters))) == expected


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '"inflación',
        "inflación*",
        "*",
        "NEAR(inflación canción)",
        "NEAR",
        "AND",
        "OR OR NOT",
        "-inflación",
        "terms:inflación",
        "{terms}: x",
        "^inflación",
        "(",
        ")",
        "a + b",
        "'; DROP TABLE chunks; --",
        "\x00",
        "🙂🙂",
        "x" * 5000,
        " ".join(f"palabra{i}" for i in range(500)),
    ],
)
def test_hostile_queries_never_raise(full: KeywordIndex, query: str) -> None:
    hits = full.search(query, 5, NO_FILTERS)
    assert isinstance(hits, list)
    assert full.count() == len(CORPUS)


def test_fts_keywords_are_searched_as_words(full: KeywordIndex) -> None:
    hits = full.search('inflación AND NOT "canción" NEAR', 10, NO_FILTERS)
    assert chunk_id("ep3", 0) in ids(hits)  # NOT did not exclude it


def test_empty_query_and_stopwords_only(full: KeywordIndex) -> None:
    assert full.search("", 5, NO_FILTERS) == []
    assert full.search("¿¡ !? ...", 5, NO_FILTERS) == []
    assert full.search("de la que the of", 5, NO_FILTERS) == []
    assert full.search("palabrainexistente", 5, NO_FILTERS) == []


def test_empty_index(index: KeywordIndex) -> None:
    assert index.search("inflación", 5, NO_FILTERS) == []
    assert index.count() == 0
    assert index.episode_ids() == set()
    assert not index.has_episode("ep1")
    index.add([])
    assert index.count() == 0


def test_persists_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "kw.db"
    with KeywordIndex(path) as idx:
        idx.add(CORPUS)
        expected = idx.search("inflación", 5, NO_FILTERS)
    with KeywordIndex(path) as idx:
        assert idx.count() == len(CORPUS)
        assert idx.search("inflación", 5, NO_FILTERS) == expected
        assert idx.get([CORPUS[0].id]) == {CORPUS[0].id: CORPUS[0]}


def test_stale_analyzer_version_rebuilds_terms(tmp_path: Path) -> None:
    path = tmp_path / "kw.db"
    with KeywordIndex(path) as idx:
        idx.add(CORPUS)
        expected = idx.search("inflación canción", 5, NO_FILTERS)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE meta SET value = 'old' WHERE key = 'analyzer'")
        conn.execute("DELETE FROM chunk_terms")
    conn.close()
    with KeywordIndex(path) as idx:
        assert idx.search("inflación canción", 5, NO_FILTERS) == expected


def test_pruned_search_rescores_like_fts5(
    index: KeywordIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(7)
    common = ["gente", "cosa", "tiempo", "mundo", "vida"]
    chunks = [
        make_chunk("p", i, " ".join([*rng.choices(common, k=rng.randint(3, 30)), "zorro"]))
        for i in range(60)
    ]
    index.add(chunks)
    query = "zorro gente mundo"
    exact = index.search(query, 10, NO_FILTERS)
    monkeypatch.setattr(sqlite_fts, "CANDIDATE_BUDGET", 0)  # rank "zorro" only, then re-score
    pruned = index.search(query, 10, NO_FILTERS)
    assert [h.score for h in pruned] == pytest.approx([h.score for h in exact], rel=1e-9)
    assert ids(pruned) == ids(exact)


def test_pruned_search_falls_back_when_rare_terms_run_dry(
    full: KeywordIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_fts, "CANDIDATE_BUDGET", 0)
    hits = full.search("Shakira inflación", 4, NO_FILTERS)
    assert len(hits) == 4
    assert hits[0].chunk_id == chunk_id("ep1", 1)


def test_concurrent_reads_and_writes(index: KeywordIndex) -> None:
    index.add(CORPUS)
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(50):
                assert index.search("inflación", 3, NO_FILTERS)
                index.get([CORPUS[0].id])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    def write() -> None:
        try:
            for i in range(20):
                index.add([make_chunk("w", i, f"inflación número {i}")])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(4)] + [threading.Thread(target=write)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert index.count() == len(CORPUS) + 20


def test_use_before_open_is_a_storage_error(tmp_path: Path) -> None:
    idx = KeywordIndex(tmp_path / "kw.db")
    with pytest.raises(StorageError, match="open"):
        idx.search("inflación", 5, NO_FILTERS)


def test_unusable_path_is_a_storage_error(tmp_path: Path) -> None:
    directory = tmp_path / "is-a-dir"
    directory.mkdir()
    with pytest.raises(StorageError, match="keyword index") as info:
        KeywordIndex(directory).open()
    assert info.value.__cause__ is not None


def test_corrupt_file_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "kw.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError, match="reindex"):
        KeywordIndex(path).open()


def test_connections_of_finished_threads_are_released(full: KeywordIndex) -> None:
    # A threadpool retires idle workers; their connections must not pile up until close().
    for _ in range(30):
        t = threading.Thread(target=full.search, args=("inflación", 3, NO_FILTERS))
        t.start()
        t.join()
    gc.collect()
    assert len(full._conns) <= 2  # this thread's, plus at most one not yet collected


def test_other_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "kw.db"
    with KeywordIndex(path):
        pass
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE meta SET value = '999' WHERE key = 'schema'")
    conn.close()
    with pytest.raises(StorageError, match="reindex"):
        KeywordIndex(path).open()
