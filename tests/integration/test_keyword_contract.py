"""The ``KeywordIndex`` contract, run against every backend (today SQLite FTS5).

Each test gets a fresh, empty store; calling ``open_store()`` again opens another index on the
same store (how reopening is tested). A new backend adds an entry to ``BACKENDS``, to
``SETTINGS`` (the settings that choose it) and to ``SHARED``. What only SQLite has (term
statistics, schema upgrades, the pruned ranking) stays in tests/unit/test_keyword_index.py.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest

from castgraph.core.models import Chunk, chunk_build, chunk_id
from castgraph.core.settings import Settings
from castgraph.retrieval.base import Hit, Retriever, SearchFilters
from castgraph.retrieval.keyword import KeywordIndex, SqliteKeywordIndex, keyword_index

pytestmark = pytest.mark.integration

OpenStore = Callable[[], KeywordIndex]
NO_FILTERS = SearchFilters()

BACKENDS: dict[str, Callable[[Path], OpenStore]] = {
    "sqlite": lambda tmp: lambda: SqliteKeywordIndex(tmp / "data" / "keyword.sqlite"),
}
SETTINGS: dict[str, dict[str, object]] = {"sqlite": {"keyword_backend": "sqlite"}}
SHARED = {"sqlite": False}


@pytest.fixture(params=sorted(BACKENDS))
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenStore]:
    make = BACKENDS[request.param](tmp_path)
    opened: list[KeywordIndex] = []

    def open_store() -> KeywordIndex:
        opened.append(make().open())
        return opened[-1]

    yield open_store
    for index in opened:
        index.close()


@pytest.fixture
def index(open_store: OpenStore) -> KeywordIndex:
    return open_store()


@pytest.fixture
def full(index: KeywordIndex) -> KeywordIndex:
    index.upsert(CORPUS)
    return index


def make_chunk(
    episode: str,
    ordinal: int,
    text: str,
    *,
    build: int = 0,
    speakers: tuple[str, ...] = ("Ana",),
    language: str = "es",
    published: date | None = date(2024, 5, 1),
) -> Chunk:
    return Chunk(
        id=chunk_id(episode, ordinal, build),
        episode_id=episode,
        ordinal=ordinal,
        start=ordinal * 30.0,
        end=ordinal * 30.0 + 29.5,
        text=text,
        speakers=speakers,
        language=language,
        title=f"Episodio {episode}: ¿qué pasó?",
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


def ids(hits: list[Hit]) -> list[str]:
    return [h.chunk_id for h in hits]


def test_empty_index(index: KeywordIndex) -> None:
    assert index.search("inflación", 5, NO_FILTERS) == []
    assert index.count() == 0
    assert index.episode_ids() == set()
    assert index.chunk_ids("ep1") == set()
    assert index.chunks_of("ep1") == []
    assert index.get([chunk_id("ep1", 0)]) == {}
    assert not index.has_episode("ep1")
    index.delete_episode("ep1")  # removing what is not there is fine
    index.delete_chunks([])
    index.delete_chunks([chunk_id("ep1", 0)])
    index.upsert([])
    assert index.count() == 0


def test_is_a_retriever(full: KeywordIndex) -> None:
    retriever: Retriever = full
    assert retriever.search("inflación", 3, NO_FILTERS)


def test_get_round_trips_every_field(full: KeywordIndex) -> None:
    assert full.get([c.id for c in CORPUS]) == {c.id: c for c in CORPUS}
    assert full.get([]) == {}


def test_get_skips_missing_and_duplicate_ids_in_large_batches(index: KeywordIndex) -> None:
    chunks = [make_chunk("big", i, f"palabra{i} texto") for i in range(1200)]
    index.upsert(chunks)
    got = index.get([c.id for c in chunks[::7]] + ["nope", chunks[0].id])
    assert set(got) == {c.id for c in chunks[::7]}
    assert len(index.get([c.id for c in chunks])) == 1200


def test_chunks_of_is_ordered_by_ordinal(index: KeywordIndex) -> None:
    chunks = [make_chunk("ep9", i, f"texto {i}") for i in range(10)]
    shuffled = chunks[:]
    random.Random(3).shuffle(shuffled)
    index.upsert(shuffled)
    assert index.chunks_of("ep9") == chunks


def test_upsert_by_id_replaces(full: KeywordIndex) -> None:
    before = full.search("inflación", 10, NO_FILTERS)
    full.upsert(CORPUS)
    full.upsert([CORPUS[0], CORPUS[0]])  # duplicates within one call too
    assert full.count() == len(CORPUS)
    after = full.search("inflación", 10, NO_FILTERS)
    assert ids(after) == ids(before)
    assert [h.score for h in after] == pytest.approx([h.score for h in before])
    changed = make_chunk("ep1", 1, "Ahora hablamos de ballenas azules.")
    full.upsert([changed])
    assert full.count() == len(CORPUS)
    assert ids(full.search("ballenas", 5, NO_FILTERS)) == [changed.id]
    assert changed.id not in ids(full.search("Shakira", 5, NO_FILTERS))
    assert full.get([changed.id]) == {changed.id: changed}


def test_search_ranks_the_relevant_chunk_first(full: KeywordIndex) -> None:
    hits = full.search("inflación", 10, NO_FILTERS)
    assert hits[0].chunk_id == chunk_id("ep1", 2)  # says it three times in a short chunk
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))
    assert ids(full.search("canciones de Shakira", 3, NO_FILTERS))[0] == chunk_id("ep1", 1)
    assert len(full.search("inflación", 2, NO_FILTERS)) == 2
    assert full.search("inflación", 0, NO_FILTERS) == []


def test_queries_without_words_find_nothing(full: KeywordIndex) -> None:
    assert full.search("", 5, NO_FILTERS) == []
    assert full.search("¿¡ !? ...", 5, NO_FILTERS) == []
    assert full.search("de la que the of", 5, NO_FILTERS) == []
    assert full.search("palabrainexistente", 5, NO_FILTERS) == []


def test_unicode_and_spanish_text(full: KeywordIndex) -> None:
    # Accents and case do not matter, either language's forms are found, ñ survives.
    songs = {chunk_id("ep1", 1), chunk_id("ep3", 0)}
    assert set(ids(full.search("CANCION", 5, NO_FILTERS))) == songs
    assert chunk_id("ep2", 0) in ids(full.search("corriendo running", 5, NO_FILTERS))
    assert chunk_id("ep2", 1) in ids(full.search("inflation", 5, NO_FILTERS))
    odd = make_chunk("ñu", 0, "Ñandúes y pingüinos: ¡qué año! 🙂 日本語", speakers=("Ñoño Pérez",))
    full.upsert([odd])
    assert ids(full.search("ñandúes", 5, NO_FILTERS)) == [odd.id]
    assert ids(full.search("pinguinos año", 5, SearchFilters(speakers=("ÑOÑO PÉREZ",)))) == [odd.id]
    assert full.get([odd.id]) == {odd.id: odd}
    assert full.chunk_ids("ñu") == {odd.id}


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
def test_filters_mean_what_search_filters_matches_says(
    full: KeywordIndex, filters: SearchFilters
) -> None:
    # Every chunk of the corpus matches one of these words: the filters alone decide.
    hits = full.search("inflación inflation canción running", 50, filters)
    assert set(ids(hits)) == {c.id for c in CORPUS if filters.matches(c)}


def test_delete_episode(full: KeywordIndex) -> None:
    assert full.has_episode("ep1")
    assert full.episode_ids() == {"ep1", "ep2", "ep3"}
    full.delete_episode("ep1")
    assert not full.has_episode("ep1")
    assert full.chunk_ids("ep1") == set() and full.chunks_of("ep1") == []
    assert full.episode_ids() == {"ep2", "ep3"}
    assert full.count() == len(CORPUS) - 3
    assert all(not i.startswith("ep1-") for i in ids(full.search("inflación", 10, NO_FILTERS)))


def test_chunk_ids_and_delete_chunks_across_builds(full: KeywordIndex) -> None:
    # A re-process stages build 1 beside the live build 0, then the old build's chunks go.
    staged = [
        make_chunk("ep1", i, f"Segunda versión: {c.text}", build=1)
        for i, c in enumerate(CORPUS[:2])
    ]
    full.upsert(staged)
    old = {c.id for c in CORPUS if c.episode_id == "ep1"}
    assert full.chunk_ids("ep1") == old | {c.id for c in staged}
    assert {chunk_build(i) for i in full.chunk_ids("ep1")} == {0, 1}
    full.delete_chunks([*sorted(old), "unknown-chunk"])
    assert full.chunk_ids("ep1") == {c.id for c in staged}
    assert full.chunks_of("ep1") == staged
    assert full.chunk_ids("ep2") == {c.id for c in CORPUS if c.episode_id == "ep2"}
    assert full.count() == len(CORPUS) - len(old) + len(staged)
    hits = full.search("inflación Shakira", 10, SearchFilters(episode_ids=("ep1",)))
    assert set(ids(hits)) == {c.id for c in staged}


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
def test_any_user_text_is_a_query(full: KeywordIndex, query: str) -> None:
    assert isinstance(full.search(query, 5, NO_FILTERS), list)
    assert full.count() == len(CORPUS)


def test_query_syntax_words_are_searched_as_words(full: KeywordIndex) -> None:
    hits = full.search('inflación AND NOT "canción" NEAR', 10, NO_FILTERS)
    assert chunk_id("ep3", 0) in ids(hits)  # NOT did not exclude it


def test_reopening_persists(open_store: OpenStore) -> None:
    first = open_store()
    first.upsert(CORPUS)
    expected = first.search("inflación", 5, NO_FILTERS)
    first.close()
    again = open_store()
    assert again.count() == len(CORPUS)
    assert again.search("inflación", 5, NO_FILTERS) == expected
    assert again.get([CORPUS[0].id]) == {CORPUS[0].id: CORPUS[0]}


def test_reads_run_during_writes(full: KeywordIndex) -> None:
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(50):
                assert full.search("inflación", 3, NO_FILTERS)
                assert full.get([CORPUS[0].id])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    def write() -> None:
        try:
            for i in range(20):
                full.upsert([make_chunk("w", i, f"inflación número {i}")])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(4)] + [threading.Thread(target=write)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert full.count() == len(CORPUS) + 20


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_the_factory_builds_the_backend_settings_choose(tmp_path: Path, backend: str) -> None:
    settings = Settings(data_dir=tmp_path, **SETTINGS[backend])  # type: ignore[arg-type]
    index = keyword_index(settings)
    assert index.shared is SHARED[backend]
    opened = index.open()
    try:
        opened.upsert(CORPUS[:2])
        assert ids(opened.search("Shakira", 1, NO_FILTERS)) == [CORPUS[1].id]
    finally:
        opened.close()
    again = keyword_index(settings).open()  # the same store, found through the same settings
    try:
        assert again.count() == 2
    finally:
        again.close()
