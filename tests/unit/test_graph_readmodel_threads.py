"""Readers during writes: threads searching one shared GraphRetriever over the read model while a
writer upserts, replaces and deletes an episode. No reader may fail, and every answer must be
the answer of one state the writer passed through (never a mix of two)."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path

from castgraph.core.models import Entity, Relation
from castgraph.retrieval.base import SearchFilters
from castgraph.retrieval.graph.readmodel import GraphReadModel
from castgraph.retrieval.graph.retriever import GraphRetriever
from tests.unit.test_graph_readmodel import c, doc

READERS = 4
ROUNDS = 30
QUERIES = (
    ("¿Qué dijo Carlos Gómez de la masa madre?", SearchFilters()),
    ("harina y horno", SearchFilters(languages=("es",))),
    ("masa madre", SearchFilters(date_from=date(2024, 2, 1))),
)

BASE = doc(
    "base",
    [
        Entity("Carlos Gómez", "PERSON", (), c("base", 0)),
        Entity("Masa madre", "TOPIC", (), c("base", 1, 2)),
        Entity("Harina", "TOPIC", (), c("base", 3)),
    ],
    [
        Relation("Carlos Gómez", "Masa madre", "BAKES", c("base", 1), 1.0),
        Relation("Masa madre", "Harina", "USES", c("base", 3), 2.0),
    ],
)


def guest(weight: float, *, mentions: tuple[int, ...]) -> object:
    """The episode the writer keeps rewriting: it shares entities and a relation with BASE."""
    return doc(
        "guest",
        [
            Entity("Masa madre", "TOPIC", (), c("guest", *mentions)),
            Entity("Harina", "TOPIC", (), c("guest", 0)),
            Entity("Horno", "TOPIC", (), c("guest", 2)),
        ],
        [
            Relation("Masa madre", "Harina", "USES", c("guest", 1), weight),
            Relation("Harina", "Horno", "HEATS", c("guest", 2), 1.0),
        ],
        published=date(2024, 3, 1),
    )


WRITES: list[tuple[str, object]] = [
    ("upsert", guest(1.0, mentions=(1,))),
    ("upsert", guest(4.0, mentions=(1, 3))),  # a re-index replaces the guest's rows
    ("delete", "guest"),
]
Answer = tuple[int, tuple[object, ...]]
"""(which question, its answer): each search or facts call reads one state."""


def answers(retriever: GraphRetriever) -> list[Answer]:
    """Every query's hits, and the facts, each from its own call."""
    found: list[Answer] = [
        (i, tuple((h.chunk_id, h.score) for h in retriever.search(q, 10, f)))
        for i, (q, f) in enumerate(QUERIES)
    ]
    return [*found, (len(QUERIES), tuple(retriever.facts("masa madre y harina")))]


def write(model: GraphReadModel, action: str, arg: object) -> None:
    if action == "upsert":
        model.upsert_episode(arg)  # type: ignore[arg-type]
    else:
        model.delete_episode(arg)  # type: ignore[arg-type]


def test_readers_during_writes_see_whole_states_and_never_fail(tmp_path: Path) -> None:
    model = GraphReadModel(tmp_path / "graph-read.sqlite").open()
    retriever = GraphRetriever(model, hops=2)
    model.upsert_episode(BASE)
    states = set(answers(retriever))
    for action, arg in WRITES:  # the answers in every state, read alone first
        write(model, action, arg)
        states.update(answers(retriever))
    # Each question has one answer per state: base alone, and the two versions of the guest.
    assert all(len({a for i, a in states if i == q}) == 3 for q in range(len(QUERIES) + 1))

    stop = threading.Event()
    errors: list[BaseException] = []
    seen: list[Answer] = []

    def reader() -> None:
        try:
            while not stop.is_set():
                seen.extend(answers(retriever))
        except BaseException as exc:
            errors.append(exc)

    def writer() -> None:
        try:
            for _ in range(ROUNDS):
                for action, arg in WRITES:
                    write(model, action, arg)
        except BaseException as exc:
            errors.append(exc)
        finally:
            stop.set()

    threads = [threading.Thread(target=reader) for _ in range(READERS)]
    threads.append(threading.Thread(target=writer))
    run(threads)
    model.close()
    assert errors == []
    assert seen, "the readers never finished a search"
    assert [a for a in seen if a not in states] == []


def run(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
