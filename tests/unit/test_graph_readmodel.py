"""The graph read model (SQLite) against the memory graph store, the reference semantics: shared
relation weights and mention counts through upsert, replace and delete; chunk fields for filters;
identical rankings on random graphs; reconcile; read-only opening; snapshots."""

from __future__ import annotations

import random
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path

import pytest

from castgraph.core.errors import StorageError
from castgraph.core.models import Chunk, Entity, Episode, EpisodeDocument, Relation, chunk_id
from castgraph.retrieval.base import SearchFilters
from castgraph.retrieval.graph.base import GraphSearchReader
from castgraph.retrieval.graph.memory import MemoryGraphStore
from castgraph.retrieval.graph.readmodel import GraphReadModel, reconcile
from castgraph.retrieval.graph.retriever import GraphRetriever

Graph = MemoryGraphStore | GraphReadModel


def doc(
    episode_id: str,
    entities: Sequence[Entity],
    relations: Sequence[Relation] = (),
    *,
    chunks: int = 4,
    language: str = "es",
    published: date | None = date(2024, 1, 1),
) -> EpisodeDocument:
    episode = Episode(episode_id, episode_id, episode_id, f"https://x.org/{episode_id}")
    episode.language, episode.published = language, published
    rows = tuple(
        Chunk(
            chunk_id(episode_id, i),
            episode_id,
            i,
            i * 10.0,
            i * 10.0 + 9.5,
            f"text {i}",
            (f"Voz {i % 2}", "Otra") if i % 3 == 0 else (f"Voz {i % 2}",),
            language,
            episode_id,
            episode.url,
            published,
        )
        for i in range(chunks)
    )
    return EpisodeDocument(episode, rows, tuple(entities), tuple(relations))


def c(episode_id: str, *ordinals: int) -> tuple[str, ...]:
    return tuple(chunk_id(episode_id, i) for i in ordinals)


@pytest.fixture
def model(tmp_path: Path) -> Iterator[GraphReadModel]:
    with GraphReadModel(tmp_path / "graph-read.sqlite") as opened:
        yield opened


def both(model: GraphReadModel) -> tuple[MemoryGraphStore, GraphReadModel]:
    return MemoryGraphStore(), model


def apply(graphs: Sequence[Graph], action: str, arg: EpisodeDocument | str) -> None:
    for graph in graphs:
        if action == "upsert":
            assert isinstance(arg, EpisodeDocument)
            graph.upsert_episode(arg)
        else:
            assert isinstance(arg, str)
            graph.delete_episode(arg)


def state(graph: GraphSearchReader) -> tuple[object, ...]:
    """Everything graph search can read, in a comparable form."""
    entities = sorted(graph.entities(), key=lambda e: e.key)
    keys = [e.key for e in entities]
    mentions = sorted(graph.mentions(keys), key=lambda m: (m.entity_key, m.chunk.id))
    relations = sorted(graph.relations(keys), key=lambda r: (r.source_key, r.target_key, r.type))
    return entities, mentions, relations


def shared(episode_id: str, weight: float, *, alias: str = "") -> EpisodeDocument:
    aliases = (alias,) if alias else ()
    return doc(
        episode_id,
        [
            Entity("Masa madre", "TOPIC", aliases, c(episode_id, 0, 1)),
            Entity("Harina", "TOPIC", (), c(episode_id, 2)),
        ],
        [Relation("Masa madre", "Harina", "USES", c(episode_id, 1), weight)],
    )


def test_shared_relation_weights_add_replace_and_subtract(model: GraphReadModel) -> None:
    graphs = both(model)
    apply(graphs, "upsert", shared("a", 1.0))
    apply(graphs, "upsert", shared("b", 2.5))
    (fact,) = model.relations(["harina"])
    assert (fact.weight, fact.chunk_ids) == (3.5, c("a", 1) + c("b", 1))
    apply(graphs, "upsert", shared("a", 0.25))  # a re-index replaces a's contribution only
    (fact,) = model.relations(["masa madre"])
    assert (fact.weight, fact.chunk_ids) == (2.75, c("a", 1) + c("b", 1))  # evidence in id order
    assert state(graphs[0]) == state(model)
    apply(graphs, "delete", "b")
    (fact,) = model.relations(["masa madre"])
    assert (fact.weight, fact.chunk_ids) == (0.25, c("a", 1))
    assert state(graphs[0]) == state(model)
    apply(graphs, "delete", "a")
    assert state(model) == ([], [], []) == state(graphs[0])
    assert model.episode_ids() == set() and model.stats().entities == 0


def test_mention_counts_follow_every_write(model: GraphReadModel) -> None:
    graphs = both(model)
    apply(graphs, "upsert", shared("a", 1.0))
    apply(graphs, "upsert", shared("b", 1.0, alias="sourdough"))
    counts = {e.key: e.mentions for e in model.entities()}
    assert counts == {"masa madre": 4, "harina": 2}
    fewer = doc("a", [Entity("Masa madre", "TOPIC", (), c("a", 3))])
    apply(graphs, "upsert", fewer)
    assert {e.key: e.mentions for e in model.entities()} == {"masa madre": 3, "harina": 1}
    apply(graphs, "delete", "b")
    (entity,) = model.entities()
    # The first-seen name stays and aliases never shrink: what the graph store does too.
    assert (entity.key, entity.mentions, entity.aliases) == ("masa madre", 1, ("sourdough",))
    assert state(graphs[0]) == state(model)
    assert model.stats() == model.stats().__class__(episodes=1, entities=1, mentions=1)


def test_an_entity_held_up_only_by_a_relation_stays(model: GraphReadModel) -> None:
    graphs = both(model)
    apply(graphs, "upsert", shared("a", 1.0))
    only_relation = doc(
        "b",
        [Entity("Masa madre", "TOPIC", (), c("b", 0)), Entity("Horno", "TOPIC")],
        [Relation("Masa madre", "Horno", "NEEDS", c("b", 0), 1.0)],
    )
    apply(graphs, "upsert", only_relation)
    assert {e.key: e.mentions for e in model.entities()}["horno"] == 0
    apply(graphs, "delete", "b")
    assert "horno" not in {e.key for e in model.entities()}
    assert state(graphs[0]) == state(model)


def test_postings_carry_what_filters_read(model: GraphReadModel) -> None:
    graphs = both(model)
    english = doc("en", [Entity("Harina", "TOPIC", (), c("en", 0, 3))], language="en")
    undated = doc("nd", [Entity("Harina", "TOPIC", (), c("nd", 1))], published=None)
    for document in (english, undated):
        apply(graphs, "upsert", document)
    assert state(graphs[0]) == state(model)
    first = {m.chunk.id: m.chunk for m in model.mentions(["harina"])}[chunk_id("en", 0)]
    assert (first.speakers, first.language, first.published) == (
        ("Voz 0", "Otra"),
        "en",
        date(2024, 1, 1),
    )
    retriever = GraphRetriever(model, hops=0)
    cases = {
        SearchFilters(languages=("es",)): c("nd", 1),
        SearchFilters(speakers=("otra",)): c("en", 0, 3),
        SearchFilters(date_from=date(2023, 1, 1)): c("en", 0, 3),
        SearchFilters(episode_ids=("nd",)): c("nd", 1),
    }
    for filters, expected in cases.items():
        assert tuple(h.chunk_id for h in retriever.search("harina", 10, filters)) == expected


NAMES = [f"{first} {last}" for first in ("Ana", "Luis", "Marta") for last in ("Gil", "Paz", "Sol")]
NAMES += ["Masa madre", "Harina", "Horno", "Molino", "Barracas", "Tucumán"]


def random_document(rng: random.Random, episode_id: str) -> EpisodeDocument:
    chunks = rng.randint(2, 8)
    picked = rng.sample(NAMES, rng.randint(2, 7))
    entities = [
        Entity(
            name,
            rng.choice(["PERSON", "TOPIC", ""]),
            tuple(rng.sample(["alias uno", "alias dos"], rng.randint(0, 1))),
            c(episode_id, *rng.sample(range(chunks), rng.randint(0, min(3, chunks)))),
        )
        for name in picked
    ]
    relations = [
        Relation(
            *rng.sample(picked, 2),
            rng.choice(["KNOWS", "USES"]),
            c(episode_id, rng.randrange(chunks)),
            rng.choice([0.5, 1.0, 1.5, 3.0]),
        )
        for _ in range(rng.randint(0, 6))
    ]
    day = date(2024, rng.randint(1, 12), 1)
    language = rng.choice(["es", "en"])
    return doc(episode_id, entities, relations, chunks=chunks, language=language, published=day)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_writes_read_and_rank_as_the_memory_store(model: GraphReadModel, seed: int) -> None:
    rng = random.Random(seed)
    graphs = both(model)
    episodes = [f"ep{i}" for i in range(6)]
    filters = [
        SearchFilters(),
        SearchFilters(languages=("en",)),
        SearchFilters(speakers=("voz 1",)),
        SearchFilters(date_from=date(2024, 6, 1)),
    ]
    for _step in range(25):
        episode_id = rng.choice(episodes)
        if rng.random() < 0.3:
            apply(graphs, "delete", episode_id)
        else:
            apply(graphs, "upsert", random_document(rng, episode_id))
        assert state(graphs[0]) == state(model)
        assert graphs[0].episode_ids() == model.episode_ids()
        for hops in (1, 2):
            reference, candidate = (GraphRetriever(g, hops=hops) for g in graphs)
            for name in rng.sample(NAMES, 4):
                query = f"¿Qué dijo {name} sobre {rng.choice(NAMES)}?"
                for chosen in filters:
                    expected = reference.search(query, 10, chosen)
                    found = candidate.search(query, 10, chosen)
                    assert [h.chunk_id for h in found] == [h.chunk_id for h in expected]
                    assert [h.score for h in found] == pytest.approx([h.score for h in expected])
                assert candidate.facts(query) == reference.facts(query)


def test_reconcile_writes_missing_episodes_and_drops_stale_ones(model: GraphReadModel) -> None:
    documents = {d.episode.id: d for d in (shared("a", 1.0), shared("b", 2.0), shared("c", 3.0))}
    model.upsert_episode(documents["c"])
    assert reconcile(model, {"a", "b", "gone"}, documents.get) == (2, 1)
    assert model.episode_ids() == {"a", "b"}
    assert model.relations(["harina"])[0].weight == 3.0
    assert reconcile(model, {"a", "b"}, documents.get) == (0, 0)


def test_version_changes_on_every_write(model: GraphReadModel) -> None:
    seen = {model.version()}
    model.upsert_episode(shared("a", 1.0))
    seen.add(model.version())
    model.delete_episode("a")
    seen.add(model.version())
    assert len(seen) == 3


def test_read_only_models_read_a_writers_file_and_never_write(tmp_path: Path) -> None:
    path = tmp_path / "graph-read.sqlite"
    with GraphReadModel(path, read_only=True) as early:
        assert not early.ready and early.entities() == [] and early.version() == ""
    with GraphReadModel(path) as writer, GraphReadModel(path, read_only=True) as reader:
        assert reader.ready
        writer.upsert_episode(shared("a", 1.0))
        assert reader.version() == writer.version() and reader.episode_ids() == {"a"}
        with pytest.raises(StorageError, match="read-only"):
            reader.delete_episode("a")


def test_another_schema_version_is_emptied_for_a_rebuild(tmp_path: Path) -> None:
    path = tmp_path / "graph-read.sqlite"
    with GraphReadModel(path) as model:
        model.upsert_episode(shared("a", 1.0))
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '0' WHERE name = 'schema'")
    with GraphReadModel(path, read_only=True) as reader:
        assert not reader.ready
    with GraphReadModel(path) as model:
        assert model.ready and model.episode_ids() == set() and model.entities() == []


def test_a_snapshot_does_not_see_a_write_that_lands_inside_it(model: GraphReadModel) -> None:
    model.upsert_episode(shared("a", 1.0))
    before = state(model)
    with model.snapshot():
        version = model.version()
        writer = threading.Thread(target=model.upsert_episode, args=(shared("b", 2.0),))
        writer.start()
        writer.join()
        assert model.version() == version and state(model) == before
    assert model.version() != version and model.episode_ids() == {"a", "b"}
