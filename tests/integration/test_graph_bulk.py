"""Batched graph writes against the memory reference store, on a real LadybugDB (and Neo4j).

The Cypher stores write an episode with a few UNWIND statements that look rows up by primary
key and reach relations through their endpoints (``graph/cypher_write.py``). These tests hold
them to the memory store's semantics where batching could go wrong: entities and relations
shared by several episodes, re-upserts that shrink an episode, deletes after batched writes,
episodes larger than one batch, episodes written before ``Episode.entity_keys`` existed, and
reads while a write transaction is open.
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from castgraph.core.models import Entity, EpisodeDocument, Relation, chunk_id
from castgraph.retrieval.graph import GraphStore, make_graph_store
from castgraph.retrieval.graph.cypher_write import BATCH, Run
from castgraph.retrieval.graph.embedded import EmbeddedGraphStore
from castgraph.retrieval.graph.memory import MemoryGraphStore
from tests.integration.test_graph_contract import _wipe_neo4j, make_doc, snapshot

pytestmark = pytest.mark.integration

NEO4J_URI = os.environ.get("NEO4J_URI")
BACKENDS = [
    "embedded",
    pytest.param(
        "neo4j",
        marks=pytest.mark.skipif(
            not NEO4J_URI, reason="NEO4J_URI is not set (point it at a Neo4j 5 test database)"
        ),
    ),
]
NAMES = [
    ("José Pérez", "PERSON", ("Pepe",)),
    ("Ana López", "PERSON", ()),
    ("Madrid", "PLACE", ()),
    ("Barracas", "PLACE", ("barrio de Barracas",)),
    ("Observatorio Urbano", "ORG", ()),
    ("Marta Ruiz", "PERSON", ("Martita",)),
    ("Tucumán", "PLACE", ()),
    ("Radio Sur", "ORG", ()),
]
TYPES = ("RELATED_TO", "LIVES_IN", "WORKS_AT")


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GraphStore]:
    if request.param == "neo4j":
        graph = make_graph_store(
            "neo4j",
            uri=NEO4J_URI,
            user=os.environ.get("NEO4J_USER"),
            password=os.environ.get("NEO4J_PASSWORD"),
        ).open()
        _wipe_neo4j(graph)
    else:
        graph = make_graph_store("embedded", path=tmp_path / "graph" / "db").open()
    yield graph
    graph.close()


def random_doc(episode_id: str, chunks: int, rng: random.Random) -> EpisodeDocument:
    """An episode drawing entities and relations from a small shared pool (so they overlap)."""
    speakers = [
        rng.sample(["Ana", "Luis", "Marta", "Bea"], rng.randint(0, 2)) for _ in range(chunks)
    ]
    ids = [chunk_id(episode_id, i) for i in range(chunks)]
    picked = rng.sample(NAMES, rng.randint(2, len(NAMES)))
    entities = [
        Entity(
            name if rng.random() < 0.7 else name.upper(),
            kind if rng.random() < 0.8 else "",
            aliases,
            tuple(rng.sample(ids, rng.randint(0, min(4, chunks)))),
        )
        for name, kind, aliases in picked
    ]
    relations = []
    for _ in range(rng.randint(0, 6)):
        (source, _, aliases), (target, _, _) = rng.sample(picked, 2)
        relations.append(
            Relation(
                rng.choice([source, *aliases]),
                target,
                rng.choice(TYPES),
                tuple(rng.sample(ids, rng.randint(0, min(2, chunks)))),
                float(rng.randint(1, 3)),
            )
        )
    return make_doc(episode_id, speakers, entities, relations)


def with_shared_relation(doc: EpisodeDocument) -> EpisodeDocument:
    """``doc`` also saying that José Pérez lives in Madrid (so every episode evidences it)."""
    first = (doc.chunks[0].id,)
    entities = (Entity("José Pérez", "PERSON", (), first), Entity("Madrid", "PLACE", (), first))
    relation = Relation("José Pérez", "Madrid", "LIVES_IN", first, 1.5)
    return replace(doc, entities=(*doc.entities, *entities), relations=(*doc.relations, relation))


def full_snapshot(store: GraphStore) -> tuple[object, ...]:
    keys = sorted(e.key for e in store.entities())
    mentions = sorted((m.entity_key, m.chunk.id, m.chunk.speakers) for m in store.mentions(keys))
    return (*snapshot(store), mentions)


def assert_same(store: GraphStore, reference: MemoryGraphStore, step: str) -> None:
    assert full_snapshot(store) == full_snapshot(reference), step


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_batched_writes_match_the_memory_store(store: GraphStore, seed: int) -> None:
    rng = random.Random(seed)
    reference = MemoryGraphStore()
    docs = {f"ep{i}": random_doc(f"ep{i}", rng.randint(1, 12), rng) for i in range(5)}
    docs["ep1"] = with_shared_relation(docs["ep1"])
    docs["ep3"] = with_shared_relation(docs["ep3"])
    for doc in docs.values():
        for graph in (store, reference):
            graph.upsert_episode(doc)
        assert_same(store, reference, f"upsert {doc.episode.id}")
    # The case batching must get right: relations (and entities) evidenced by several episodes.
    assert any(len(row.episode_ids) > 1 for row in reference._relations.values())
    for step in range(12):
        episode_id = rng.choice(sorted(docs))
        if rng.random() < 0.3:
            for graph in (store, reference):
                graph.delete_episode(episode_id)
            assert_same(store, reference, f"step {step}: delete {episode_id}")
        else:
            # Re-upserts change the episode: usually fewer chunks, other entities and relations.
            doc = random_doc(episode_id, rng.randint(1, 8), rng)
            for graph in (store, reference):
                graph.upsert_episode(doc)
            assert_same(store, reference, f"step {step}: re-upsert {episode_id}")


def test_reupsert_with_fewer_chunks_and_entities_leaves_nothing_stale(store: GraphStore) -> None:
    rng = random.Random(7)
    reference = MemoryGraphStore()
    other = random_doc("other", 6, rng)
    big = random_doc("ep", 10, rng)
    small = make_doc(
        "ep",
        [["Ana"], ["Ana"]],
        [Entity("Madrid", "PLACE", (), (chunk_id("ep", 1),))],
    )
    for doc in (other, big, small):
        for graph in (store, reference):
            graph.upsert_episode(doc)
    assert_same(store, reference, "after shrinking")
    assert [c.id for c in store.chunks("ep")] == [chunk_id("ep", 0), chunk_id("ep", 1)]
    for graph in (store, reference):
        graph.delete_episode("other")
        graph.delete_episode("ep")
    assert_same(store, reference, "after deleting both")
    assert store.stats() == type(store.stats())()


def test_an_episode_larger_than_a_batch(store: GraphStore) -> None:
    reference = MemoryGraphStore()
    size = BATCH + 500
    ids = [chunk_id("long", i) for i in range(size)]
    # Every chunk mentions two entities: more mention rows than two batches.
    entities = [
        Entity("Madrid", "PLACE", (), tuple(ids)),
        Entity("Ana López", "PERSON", (), tuple(ids[::2])),
        Entity("Radio Sur", "ORG", (), tuple(ids[1::2])),
    ]
    relations = [Relation("Ana López", "Madrid", "LIVES_IN", tuple(ids[:50]), 2.0)]
    doc = make_doc(
        "long", [["Ana"] if i % 3 else ["Luis"] for i in range(size)], entities, relations
    )
    for graph in (store, reference):
        graph.upsert_episode(random_doc("short", 5, random.Random(3)))
        graph.upsert_episode(doc)
    stats = store.stats()
    assert (stats.chunks, stats.next_edges) == (size + 5, size - 1 + 4)
    assert_same(store, reference, "after the long episode")
    chunks = store.chunks("long")
    assert [c.ordinal for c in chunks] == list(range(size))
    assert chunks[BATCH - 1].next_id == ids[BATCH]  # the NEXT chain crosses the batch boundary
    for graph in (store, reference):
        graph.upsert_episode(doc)  # idempotent at this size too
    assert_same(store, reference, "after re-upserting it")
    for graph in (store, reference):
        graph.delete_episode("long")
    assert_same(store, reference, "after deleting it")


def make_legacy(run: Run) -> None:
    """Turn the graph into what the pre-issue-12 writer left: episodes without ``entity_keys``
    and one RELATED edge per relation, shared by every episode that evidences it."""
    run("MATCH (e:Episode) SET e.entity_keys = NULL", {})
    edges = run(
        "MATCH (a:Entity)-[r:RELATED]->(b:Entity) "
        "RETURN a.key, b.key, r.type, r.chunk_ids, r.episode_ids, r.episode_weights",
        {},
    )
    shared: dict[tuple[str, str, str], list[list[str | float]]] = {}
    for source, target, kind, chunk_ids, episode_ids, weights in sorted(edges):
        lists = shared.setdefault((source, target, kind), [[], [], []])
        for into, values in zip(lists, (chunk_ids, episode_ids, weights), strict=True):
            into.extend(values)
    run("MATCH (:Entity)-[r:RELATED]->(:Entity) DELETE r", {})
    for (source, target, kind), (chunk_ids, episode_ids, weights) in shared.items():
        run(
            "MATCH (a:Entity {key: $s}) MATCH (b:Entity {key: $t}) CREATE (a)-[:RELATED "
            "{type: $k, chunk_ids: $c, weight: $w, episode_ids: $e, episode_weights: $ew}]->(b)",
            {
                "s": source,
                "t": target,
                "k": kind,
                "c": chunk_ids,
                "e": episode_ids,
                "ew": weights,
                "w": sum(float(w) for w in weights),
            },
        )


def test_deleting_episodes_of_an_older_database(tmp_path: Path) -> None:
    """Shared RELATED edges and episodes without ``entity_keys`` (an older database) are
    deleted by scanning, each episode subtracting exactly its contribution."""
    store = EmbeddedGraphStore(tmp_path / "db").open()
    reference = MemoryGraphStore()
    rng = random.Random(11)
    try:
        docs = [with_shared_relation(random_doc(f"ep{i}", 6, rng)) for i in range(4)]
        for doc in docs:
            for graph in (store, reference):
                graph.upsert_episode(doc)
        before = store.stats().relations
        store._write(make_legacy)
        assert store.stats().relations == before
        shared = "MATCH ()-[r:RELATED]->() WHERE size(r.episode_ids) > 1 RETURN count(r)"
        assert store._read(shared, {})[0][0] > 0  # the case under test: edges of several episodes
        assert_same(store, reference, "legacy layout")
        for doc in docs[:2]:
            for graph in (store, reference):
                graph.delete_episode(doc.episode.id)
            assert_same(store, reference, f"delete {doc.episode.id}")
        for graph in (store, reference):
            graph.upsert_episode(docs[2])  # re-upsert: delete by scan, then write with keys
        assert_same(store, reference, "re-upsert")
    finally:
        store.close()


def test_embedded_reads_do_not_wait_for_an_open_write(tmp_path: Path) -> None:
    """Readers on their own connections see the last commit while a write transaction is open."""
    store = EmbeddedGraphStore(tmp_path / "db").open()
    try:
        store.upsert_episode(random_doc("ep1", 4, random.Random(5)))
        inside, done = threading.Event(), threading.Event()

        def slow_write(run: Run) -> None:
            run("CREATE (:Episode {id: 'uncommitted'})", {})
            inside.set()
            done.wait(timeout=60)  # hold the transaction open until the readers are done

        writer = threading.Thread(target=store._write, args=(slow_write,))
        writer.start()
        assert inside.wait(timeout=60)
        seen: list[object] = []

        def read() -> None:
            seen.append((sorted(store.episode_ids()), store.stats().chunks))

        readers = [threading.Thread(target=read) for _ in range(4)]
        for thread in readers:
            thread.start()
        for thread in readers:
            thread.join(timeout=30)
        blocked = [thread for thread in readers if thread.is_alive()]
        done.set()
        writer.join(timeout=60)
        assert not blocked, "readers waited for the open write transaction"
        assert seen == [(["ep1"], 4)] * 4
        assert store.episode_ids() == {"ep1", "uncommitted"}  # committed once released
    finally:
        store.close()
