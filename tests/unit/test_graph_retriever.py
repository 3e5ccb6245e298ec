"""GraphRetriever over the in-memory graph store and over the graph read model (SQLite): linking,
hop expansion, filters, facts. Every test runs over both readers, with the same expectations."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from rapidfuzz import process

from castgraph.core.models import Chunk, Entity, Episode, EpisodeDocument, Relation, chunk_id
from castgraph.core.text import phonetic
from castgraph.retrieval.base import Hit, SearchFilters
from castgraph.retrieval.graph import linking
from castgraph.retrieval.graph.base import GraphEntity, Mention, RelationFact
from castgraph.retrieval.graph.memory import MemoryGraphStore
from castgraph.retrieval.graph.readmodel import GraphReadModel
from castgraph.retrieval.graph.retriever import GraphRetriever

Graph = MemoryGraphStore | GraphReadModel

NO_FILTERS = SearchFilters()
CONCEPTS = {"isla": 0, "island": 0, "calor": 1, "heat": 1, "urbana": 2, "urban": 2}


class ConceptEmbedder:
    """A tiny fake: words of the same concept (across languages) share a dimension."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.vocabulary: dict[str, int] = dict(CONCEPTS)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        return [self._vector(t) for t in texts]

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * 256
        for word in text.lower().split():
            # Every other word gets a dimension of its own: unrelated words never collide.
            vector[self.vocabulary.setdefault(word, len(self.vocabulary) + 3)] += 1.0
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        return [v / norm for v in vector]


def c(episode_id: str, *ordinals: int) -> tuple[str, ...]:
    return tuple(chunk_id(episode_id, i) for i in ordinals)


def document(
    episode_id: str,
    speakers: Sequence[str],
    entities: Sequence[Entity],
    relations: Sequence[Relation] = (),
    *,
    language: str,
    published: date,
) -> EpisodeDocument:
    episode = Episode(
        episode_id, episode_id, episode_id, f"https://x.org/{episode_id}", language=language
    )
    episode.published = published
    chunks = tuple(
        Chunk(
            chunk_id(episode_id, i),
            episode_id,
            i,
            i * 30.0,
            i * 30.0 + 29.0,
            f"text {i}",
            (speaker,),
            language,
            episode_id,
            episode.url,
            published,
        )
        for i, speaker in enumerate(speakers)
    )
    return EpisodeDocument(episode, chunks, tuple(entities), tuple(relations))


@pytest.fixture(params=["memory", "readmodel"])
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Graph]]:
    """Opens empty readers of one kind: the memory graph store or the read model."""
    opened: list[GraphReadModel] = []

    def new() -> Graph:
        if request.param == "memory":
            return MemoryGraphStore()
        opened.append(GraphReadModel(tmp_path / f"graph-read-{len(opened)}.sqlite").open())
        return opened[-1]

    yield new
    for model in opened:
        model.close()


@pytest.fixture
def store(make: Callable[[], Graph]) -> Graph:
    graph = make()
    graph.upsert_episode(
        document(
            "bread",
            ["Ana", "Ana", "Luis", "Luis", "Luis", "Ana"],
            [
                Entity("Carlos Gómez", "PERSON", (), c("bread", 0, 1)),
                Entity("Masa madre", "TOPIC", ("sourdough",), c("bread", 1, 2)),
                Entity("Harina", "TOPIC", (), c("bread", 3)),
                Entity("Molino", "PLACE", (), c("bread", 4)),
                Entity("Horno", "TOPIC", (), c("bread", 5)),
            ],
            [
                Relation("Carlos Gómez", "Masa madre", "BAKES", c("bread", 1), 1.0),
                Relation("Masa madre", "Harina", "USES", c("bread", 3), 2.0),
                Relation("Harina", "Molino", "COMES_FROM", c("bread", 4), 1.0),
                Relation("Masa madre", "Horno", "NEEDS", c("bread", 5), 1.0),
            ],
            language="es",
            published=date(2024, 1, 10),
        )
    )
    graph.upsert_episode(
        document(
            "roofs",
            ["Marta", "Marta"],
            [
                Entity("sourdough", "TOPIC", (), c("roofs", 0)),
                Entity("Isla de calor urbana", "TOPIC", (), c("roofs", 1)),
            ],
            language="en",
            published=date(2024, 3, 1),
        )
    )
    return graph


def ids(hits: Sequence[Hit]) -> list[str]:
    return [h.chunk_id for h in hits]


def test_exact_and_alias_links(store: Graph) -> None:
    retriever = GraphRetriever(store)
    (link,) = retriever.link("¿Qué es la MASA MADRE?")
    assert (link.key, link.name, link.method, link.confidence) == (
        "masa madre",
        "Masa madre",
        "exact",
        1.0,
    )
    (alias,) = retriever.link("How do you feed a Sourdough starter?")
    # "sourdough" is both an alias of "masa madre" and (in the other episode) its own entity.
    assert alias.method == "exact" and alias.key == "sourdough"


def test_alias_link_when_no_entity_has_that_name(make: Callable[[], Graph]) -> None:
    graph = make()
    graph.upsert_episode(
        document(
            "e",
            ["Ana"],
            [Entity("Masa madre", "TOPIC", ("sourdough",), c("e", 0))],
            language="es",
            published=date(2024, 1, 1),
        )
    )
    (link,) = GraphRetriever(graph).link("sourdough bread")
    assert (link.key, link.method, link.confidence) == ("masa madre", "alias", 0.95)


def test_fuzzy_links_misspellings_and_asr_variants(store: Graph) -> None:
    assert phonetic("gomez") == phonetic("gomes")
    retriever = GraphRetriever(store)
    (full,) = retriever.link("¿Qué dijo Carlos Gomes?")
    assert (full.key, full.method) == ("carlos gomez", "fuzzy")
    assert full.confidence == pytest.approx(0.9)
    (surname,) = retriever.link("what did gomes say")
    assert surname.key == "carlos gomez" and surname.confidence < full.confidence
    (partial,) = retriever.link("¿Y Gómez?")
    assert (partial.key, partial.method) == ("carlos gomez", "partial")
    assert retriever.link("de la que por the of") == []
    assert GraphRetriever(store, fuzzy_threshold=99.5).link("carlo gomas") == []


def test_fuzzy_matches_are_remembered_per_graph_version(
    store: Graph, monkeypatch: pytest.MonkeyPatch
) -> None:
    retriever = GraphRetriever(store)
    scans: list[str] = []
    extract = process.extractOne

    def counted(form: str, *args: Any, **kwargs: Any) -> Any:
        scans.append(form)
        return extract(form, *args, **kwargs)

    monkeypatch.setattr(process, "extractOne", counted)
    first = retriever.link("¿Qué dijo Carlos Gomes?")
    assert scans
    scans.clear()
    assert retriever.link("¿Qué dijo Carlos Gomes?") == first
    assert scans == []  # every form was matched before, against the same names


def test_embedding_links_what_words_cannot(store: Graph) -> None:
    assert GraphRetriever(store).link("the heat island effect") == []
    embedder = ConceptEmbedder()
    retriever = GraphRetriever(store, embedder=embedder)
    (link,) = retriever.link("the heat island effect")
    assert (link.key, link.method, link.matched) == (
        "isla de calor urbana",
        "embedding",
        "heat island",
    )
    assert 0.5 < link.confidence <= 0.8
    calls = len(embedder.calls)
    retriever.link("urban heat island again")
    # Entity names are embedded once; later questions embed only their own new n-grams.
    assert len(embedder.calls) == calls + 1
    assert "heat island" not in embedder.calls[-1]  # the first question's n-gram, cached
    assert "heat island again" in embedder.calls[-1]
    retriever.link("the heat island effect")
    assert len(embedder.calls) == calls + 1  # every n-gram known: no model call at all
    assert ids(retriever.search("heat island", 5, NO_FILTERS)) == [chunk_id("roofs", 1)]


def test_embedding_links_go_to_entities_search_reads(store: Graph) -> None:
    """On a big channel the most mentioned names are hubs (their mentions are never read) and
    outnumber the guests and topics named once; embedding links skip hubs, so a rare name stays
    linkable however many names are mentioned more (before, the most mentioned names filled the
    embedded set and the rare ones could only be linked by their exact words)."""
    hubs = [Entity(f"Hub {n}", "TOPIC", (), c("talk", 0, 1, 2, 3)) for n in range(10)]
    store.upsert_episode(
        document("talk", ["Eva"] * 4, hubs, language="en", published=date(2024, 5, 1))
    )
    question = "the heat island effect"
    readable = [e for e in store.entities() if e.mentions <= 3]
    retriever = GraphRetriever(store, embedder=ConceptEmbedder(), mention_budget=3)
    retriever.linker.max_embedded_entities = len(readable)  # room for exactly those
    assert [link.key for link in retriever.link(question)] == ["isla de calor urbana"]
    everything_a_hub = GraphRetriever(store, embedder=ConceptEmbedder(), mention_budget=0)
    assert everything_a_hub.link(question) == []


def test_warm_embeds_entity_names_ahead(store: Graph) -> None:
    embedder = ConceptEmbedder()
    retriever = GraphRetriever(store, embedder=embedder)
    retriever.warm()
    assert any("Isla de calor urbana" in call for call in embedder.calls)
    calls = len(embedder.calls)
    assert retriever.link("the heat island effect")
    assert len(embedder.calls) == calls + 1  # the question's n-grams only, no names


def test_a_new_graph_version_embeds_only_new_names(
    store: Graph, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(linking, "NAME_BATCH", 2)  # names embedded two at a time
    embedder = ConceptEmbedder()
    retriever = GraphRetriever(store, embedder=embedder)
    retriever.warm()
    assert max(len(call) for call in embedder.calls) == 2
    assert [link.key for link in retriever.link("the heat island effect")] == [
        "isla de calor urbana"
    ]
    before = len(embedder.calls)
    store.upsert_episode(
        document(
            "port",
            ["Eva"] * 3,  # named in 3 chunks: first in the compared set, every other name moves
            [Entity("Puerto Madero", "PLACE", (), c("port", 0, 1, 2))],
            language="es",
            published=date(2024, 6, 1),
        )
    )
    assert [link.key for link in retriever.link("the heat island effect")] == [
        "isla de calor urbana"
    ]  # the kept vectors still belong to their names
    embedded = [text for call in embedder.calls[before:] for text in call]
    assert "Puerto Madero" in embedded
    assert "Isla de calor urbana" not in embedded and "Carlos Gómez" not in embedded


def test_search_ranks_by_hops(store: Graph) -> None:
    hits = GraphRetriever(store, hops=2).search("masa madre", 10, NO_FILTERS)
    assert ids(hits)[:2] == list(c("bread", 1, 2))
    assert ids(hits)[2:] == list(c("bread", 3, 0, 5, 4))
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    # Harina is the strongest neighbour (weight 2 of 2), Horno and Carlos half as strong; all
    # scaled by how specific "masa madre" is (named in 2 chunks).
    specific = 1 / (1 + math.log10(2))
    assert scores[2] == pytest.approx(0.5 * specific, abs=1e-6) and scores[3] == pytest.approx(
        0.25 * specific, abs=1e-6
    )
    one_hop = GraphRetriever(store, hops=1).search("masa madre", 10, NO_FILTERS)
    assert chunk_id("bread", 4) not in ids(one_hop)
    assert ids(GraphRetriever(store, hops=0).search("masa madre", 10, NO_FILTERS)) == list(
        c("bread", 1, 2)
    )
    assert len(GraphRetriever(store).search("masa madre", 2, NO_FILTERS)) == 2


def test_two_entity_questions_rank_shared_chunks_first(store: Graph) -> None:
    retriever = GraphRetriever(store)
    hits = retriever.search("¿Qué relación hay entre Carlos Gómez y la masa madre?", 5, NO_FILTERS)
    assert ids(hits)[0] == chunk_id("bread", 1)
    assert hits[0].score > 2 * hits[1].score
    facts = retriever.facts("Carlos Gómez y la masa madre", limit=2)
    assert (facts[0].source_name, facts[0].type, facts[0].target_name) == (
        "Carlos Gómez",
        "BAKES",
        "Masa madre",
    )
    assert facts[0].chunk_ids == c("bread", 1)
    assert len(facts) == 2
    assert retriever.facts("nothing linked here") == []


def test_filters(store: Graph) -> None:
    retriever = GraphRetriever(store, hops=0)
    by_speaker = retriever.search("masa madre", 10, SearchFilters(speakers=("luis",)))
    assert ids(by_speaker) == [chunk_id("bread", 2)]
    by_episode = retriever.search("sourdough", 10, SearchFilters(episode_ids=("roofs",)))
    assert ids(by_episode) == [chunk_id("roofs", 0)]
    by_language = retriever.search("sourdough", 10, SearchFilters(languages=("es",)))
    assert ids(by_language) == []
    by_date = retriever.search("sourdough", 10, SearchFilters(date_from=date(2024, 2, 1)))
    assert ids(by_date) == [chunk_id("roofs", 0)]
    expanded = GraphRetriever(store).search("harina", 10, SearchFilters(speakers=("Ana",)))
    assert ids(expanded) == list(c("bread", 1, 0, 5))


def test_empty_graph_and_unlinked_questions(make: Callable[[], Graph]) -> None:
    empty = GraphRetriever(make())
    assert empty.link("masa madre") == []
    assert empty.search("masa madre", 5, NO_FILTERS) == []
    assert empty.facts("masa madre") == []


def test_unlinked_question_and_cache_refresh(store: Graph) -> None:
    retriever = GraphRetriever(store)
    assert retriever.search("kombucha", 5, NO_FILTERS) == []
    assert retriever.search("masa madre", 0, NO_FILTERS) == []
    store.upsert_episode(
        document(
            "drinks",
            ["Ana"],
            [Entity("Kombucha", "TOPIC", (), c("drinks", 0))],
            language="es",
            published=date(2024, 4, 1),
        )
    )
    assert ids(retriever.search("kombucha", 5, NO_FILTERS)) == [chunk_id("drinks", 0)]


class CountingReader:
    """A ``GraphSearchReader`` that records which entity keys graph search reads."""

    def __init__(self, inner: Graph) -> None:
        self.inner = inner
        self.mention_keys: list[str] = []
        self.relation_keys: list[str] = []

    def version(self) -> str:
        return self.inner.version()

    def entities(self) -> list[GraphEntity]:
        return self.inner.entities()

    def mentions(self, keys: Sequence[str]) -> list[Mention]:
        self.mention_keys += keys
        return self.inner.mentions(keys)

    def relations(self, keys: Sequence[str]) -> list[RelationFact]:
        self.relation_keys += keys
        return self.inner.relations(keys)


def test_hubs_are_never_read_but_lead_to_their_neighbours(store: Graph) -> None:
    # "Masa madre" is named in 2 chunks: over a budget of 1 it is a hub, however it was linked.
    reader = CountingReader(store)
    assert (
        GraphRetriever(reader, hops=0, mention_budget=1).search("masa madre", 10, NO_FILTERS) == []
    )
    hits = GraphRetriever(reader, hops=2, mention_budget=1).search("masa madre", 10, NO_FILTERS)
    assert "masa madre" not in reader.mention_keys and "carlos gomez" not in reader.mention_keys
    # Its neighbours within the budget still answer: Harina (its strongest relation, which
    # uses up the budget of hop 1), then Harina's neighbour Molino.
    assert ids(hits) == list(c("bread", 3, 4))


def test_each_entity_is_read_once_per_graph_version(store: Graph) -> None:
    reader = CountingReader(store)
    retriever = GraphRetriever(reader, hops=2)
    first = retriever.search("masa madre", 10, NO_FILTERS)
    read = (len(reader.mention_keys), len(reader.relation_keys))
    assert read[0] > 0 and read[1] > 0
    assert retriever.search("masa madre", 10, NO_FILTERS) == first
    assert (len(reader.mention_keys), len(reader.relation_keys)) == read
    store.upsert_episode(  # a new version: read again, and the new chunk is found
        document(
            "more",
            ["Ana"],
            [Entity("Masa madre", "TOPIC", (), c("more", 0))],
            language="es",
            published=date(2024, 5, 1),
        )
    )
    again = retriever.search("masa madre", 10, NO_FILTERS)
    assert chunk_id("more", 0) in ids(again) and len(reader.mention_keys) > read[0]


def test_a_rarer_entity_weighs_more(store: Graph) -> None:
    # Harina is named once, Carlos Gómez twice: a chunk naming Harina says more.
    hits = GraphRetriever(store, hops=0).search("carlos gómez y harina", 10, NO_FILTERS)
    assert ids(hits) == list(c("bread", 3, 0, 1))
    assert hits[0].score == pytest.approx(1.0)
    assert hits[1].score == pytest.approx(1 / (1 + math.log10(2)), abs=1e-6)


def test_ngram_vectors_are_cached_within_a_bound(
    store: Graph, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(linking, "GRAM_CACHE", 4)
    embedder = ConceptEmbedder()
    retriever = GraphRetriever(store, embedder=embedder)
    first = retriever.link("the heat island effect")
    for n in range(6):  # other questions push the first one's n-grams out
        retriever.link(f"zorzal{n} benteveo{n}")
    grams = retriever.linker._grams
    assert grams is not None and len(grams) == 4
    calls = len(embedder.calls)
    assert retriever.link("the heat island effect") == first  # same links, recomputed vectors
    assert len(embedder.calls) == calls + 1


def test_warming_reads_ahead_what_searches_would_read(store: Graph) -> None:
    reader = CountingReader(store)
    cold = GraphRetriever(CountingReader(store), hops=2)
    warmed = GraphRetriever(reader, hops=2, mention_budget=1)
    warmed.warm()
    read = (len(reader.mention_keys), len(reader.relation_keys))
    assert read[0] > 0 and read[1] > 0
    assert "masa madre" not in reader.mention_keys  # a hub over the budget is never read
    for query in ("masa madre", "carlos gómez y harina", "harina"):
        expected = GraphRetriever(store, hops=2, mention_budget=1).search(query, 10, NO_FILTERS)
        assert warmed.search(query, 10, NO_FILTERS) == expected
    assert len(reader.mention_keys) == read[0]  # every search was answered from the cache
    warm_all = GraphRetriever(store, hops=2)
    warm_all.warm()
    assert warm_all.search("masa madre", 10, NO_FILTERS) == cold.search(
        "masa madre", 10, NO_FILTERS
    )
