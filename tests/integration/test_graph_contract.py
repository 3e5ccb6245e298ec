"""One contract for every GraphStore backend: memory, embedded LadybugDB, and Neo4j when reachable.

Neo4j runs only when ``NEO4J_URI`` (with ``NEO4J_USER``/``NEO4J_PASSWORD``) names a *test*
database: the suite deletes every castgraph node there before each test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from castgraph.core.errors import LockedError, StorageError
from castgraph.core.models import Chunk, Entity, Episode, EpisodeDocument, Relation, chunk_id
from castgraph.retrieval.graph import GraphStore, make_graph_store

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
NEO4J_URI = os.environ.get("NEO4J_URI")
BACKENDS = [
    "memory",
    "embedded",
    pytest.param(
        "neo4j",
        marks=pytest.mark.skipif(
            not NEO4J_URI, reason="NEO4J_URI is not set (point it at a Neo4j 5 test database)"
        ),
    ),
]


def make_doc(
    episode_id: str,
    speakers: Sequence[Sequence[str]],
    entities: Sequence[Entity] = (),
    relations: Sequence[Relation] = (),
    *,
    published: date | None = date(2024, 5, 1),
) -> EpisodeDocument:
    """An episode with one chunk per entry of ``speakers``."""
    episode = Episode(
        id=episode_id,
        source_id=episode_id,
        title=f"Title {episode_id}",
        url=f"https://example.org/{episode_id}",
        published=published,
        language="es",
    )
    chunks = tuple(
        Chunk(
            id=chunk_id(episode_id, i),
            episode_id=episode_id,
            ordinal=i,
            start=10.0 * i,
            end=10.0 * i + 9.5,
            text=f"chunk {i} of {episode_id} " * 30,
            speakers=tuple(names),
            language="es",
            title=episode.title,
            url=episode.url,
            published=published,
        )
        for i, names in enumerate(speakers)
    )
    return EpisodeDocument(episode, chunks, tuple(entities), tuple(relations))


def c(episode_id: str, *ordinals: int) -> tuple[str, ...]:
    return tuple(chunk_id(episode_id, i) for i in ordinals)


def episode_one() -> EpisodeDocument:
    return make_doc(
        "ep1",
        [["Ana"], ["Ana", "Luis"], ["Luis"]],
        [
            Entity("José Pérez", "PERSON", ("Pepe",), c("ep1", 0, 1)),
            Entity("Madrid", "PLACE", (), c("ep1", 1)),
            Entity("Ana López", "PERSON", (), c("ep1", 2)),
        ],
        [
            Relation("José Pérez", "Madrid", "LIVES_IN", c("ep1", 1), 1.0),
            Relation("Pepe", "Ana López", "KNOWS", c("ep1", 2), 2.0),
        ],
    )


def episode_two() -> EpisodeDocument:
    return make_doc(
        "ep2",
        [["Ana"], ["Marta"]],
        [
            Entity("jose perez", "", ("Pepito", "JOSÉ PÉREZ"), c("ep2", 0, 1)),
            Entity("madrid", "PLACE", (), c("ep2", 1)),
        ],
        [Relation("JOSE PEREZ", "Madrid", "LIVES_IN", c("ep2", 1), 3.0)],
        published=date(2024, 6, 1),
    )


def _wipe_neo4j(store: GraphStore) -> None:
    driver = store._driver  # type: ignore[attr-defined]
    for label in ("Episode", "Chunk", "Speaker", "Entity", "GraphMeta"):
        driver.execute_query(f"MATCH (n:{label}) DETACH DELETE n")


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GraphStore]:
    backend = request.param
    if backend == "neo4j":
        graph = make_graph_store(
            "neo4j",
            uri=NEO4J_URI,
            user=os.environ.get("NEO4J_USER"),
            password=os.environ.get("NEO4J_PASSWORD"),
        ).open()
        _wipe_neo4j(graph)
    else:
        graph = make_graph_store(backend, path=tmp_path / "graph" / "db").open()
    yield graph
    graph.close()


def snapshot(store: GraphStore) -> tuple[object, ...]:
    keys = sorted(e.key for e in store.entities())
    return (
        store.stats(),
        sorted(store.entities(), key=lambda e: e.key),
        sorted(store.relations(keys), key=lambda r: (r.source_key, r.target_key, r.type)),
        sorted(store.episode_ids()),
        [store.chunks(e) for e in sorted(store.episode_ids())],
    )


def test_upsert_writes_nodes_and_edges(store: GraphStore) -> None:
    store.upsert_episode(episode_one())
    stats = store.stats()
    assert (stats.episodes, stats.chunks, stats.speakers, stats.entities) == (1, 3, 2, 3)
    assert (stats.mentions, stats.relations, stats.next_edges, stats.said_edges) == (4, 2, 2, 4)
    assert store.has_episode("ep1") and not store.has_episode("ep2")
    assert store.episode_ids() == {"ep1"}


def test_upsert_is_idempotent(store: GraphStore) -> None:
    store.upsert_episode(episode_one())
    store.upsert_episode(episode_two())
    before, version = snapshot(store), store.version()
    store.upsert_episode(episode_one())
    store.upsert_episode(episode_two())
    assert snapshot(store) == before
    assert store.version() != version


def test_reupsert_drops_stale_chunks(store: GraphStore) -> None:
    store.upsert_episode(episode_one())
    shorter = make_doc("ep1", [["Ana"]], [Entity("Madrid", "PLACE", (), c("ep1", 0))])
    store.upsert_episode(shorter)
    stats = store.stats()
    assert (stats.chunks, stats.entities, stats.relations, stats.speakers) == (1, 1, 0, 1)
    assert stats.next_edges == 0


def test_chunks_carry_next_chain_speakers_and_episode_fields(store: GraphStore) -> None:
    store.upsert_episode(episode_one())
    chunks = store.chunks("ep1")
    assert [ch.ordinal for ch in chunks] == [0, 1, 2]
    assert [ch.next_id for ch in chunks] == [*c("ep1", 1, 2), None]
    assert [ch.speakers for ch in chunks] == [("Ana",), ("Ana", "Luis"), ("Luis",)]
    assert (chunks[1].start, chunks[1].end) == (10.0, 19.5)
    assert {(ch.language, ch.published) for ch in chunks} == {("es", date(2024, 5, 1))}
    assert store.chunks("missing") == []


def test_entities_merge_across_episodes_by_key(store: GraphStore) -> None:
    store.upsert_episode(episode_one())
    store.upsert_episode(episode_two())
    by_key = {e.key: e for e in store.entities()}
    assert set(by_key) == {"jose perez", "madrid", "ana lopez"}
    jose = by_key["jose perez"]
    assert (jose.name, jose.type, jose.mentions) == ("José Pérez", "PERSON", 4)
    assert sorted(jose.aliases) == ["Pepe", "Pepito"]
    assert by_key["madrid"].mentions == 2
    mentions = store.mentions(["jose perez"])
    assert {m.chunk.id for m in mentions} == set(c("ep1", 0, 1) + c("ep2", 0, 1))
    assert {m.chunk.episode_id for m in mentions} == {"ep1", "ep2"}
    second = next(m.chunk for m in mentions if m.chunk.id == chunk_id("ep2", 1))
    assert (second.speakers, second.published) == (("Marta",), date(2024, 6, 1))


def test_relations_keep_evidence_across_episodes(store: GraphStore) -> None:
    store.upsert_episode(episode_one())
    store.upsert_episode(episode_two())
    facts = {(f.source_key, f.target_key, f.type): f for f in store.relations(["madrid"])}
    lives = facts[("jose perez", "madrid", "LIVES_IN")]
    assert (lives.source_name, lives.target_name, lives.weight) == ("José Pérez", "Madrid", 4.0)
    assert set(lives.chunk_ids) == set(c("ep1", 1) + c("ep2", 1))
    # "Pepe" is an alias: the relation resolves to José Pérez's key.
    knows = store.relations(["ana lopez"])
    assert [(f.source_key, f.type, f.weight, f.chunk_ids) for f in knows] == [
        ("jose perez", "KNOWS", 2.0, c("ep1", 2))
    ]
    assert store.relations([]) == [] and store.mentions([]) == []


def test_delete_removes_episode_and_orphans_only(store: GraphStore) -> None:
    store.upsert_episode(episode_one())
    store.upsert_episode(episode_two())
    store.delete_episode("ep1")
    assert store.episode_ids() == {"ep2"} and not store.has_episode("ep1")
    by_key = {e.key: e for e in store.entities()}
    assert set(by_key) == {"jose perez", "madrid"}
    assert by_key["jose perez"].mentions == 2 and by_key["madrid"].mentions == 1
    (lives,) = store.relations(["jose perez"])
    assert (lives.type, lives.weight, lives.chunk_ids) == ("LIVES_IN", 3.0, c("ep2", 1))
    stats = store.stats()
    assert (stats.chunks, stats.speakers, stats.said_edges, stats.next_edges) == (2, 2, 2, 1)
    assert store.chunks("ep1") == []


def test_delete_everything_leaves_an_empty_graph(store: GraphStore) -> None:
    store.upsert_episode(episode_one())
    store.upsert_episode(episode_two())
    store.delete_episode("ep2")
    store.delete_episode("ep1")
    store.delete_episode("never-indexed")
    empty = store.stats()
    assert empty == type(empty)()
    assert store.entities() == [] and store.episode_ids() == set()


def test_episode_without_entities_or_date(store: GraphStore) -> None:
    store.upsert_episode(make_doc("ep3", [[], ["Ana"]], published=None))
    chunks = store.chunks("ep3")
    assert [ch.speakers for ch in chunks] == [(), ("Ana",)]
    assert chunks[0].published is None
    assert store.stats().said_edges == 1


def test_failed_upsert_changes_nothing(store: GraphStore) -> None:
    store.upsert_episode(episode_one())
    before = snapshot(store)
    clash = make_doc("ep9", [["Ana"], ["Bea"]], [Entity("Madrid", "PLACE", (), c("ep9", 0))])
    stolen = replace(clash.chunks[1], id=chunk_id("ep1", 0))  # another episode's chunk id
    with pytest.raises(StorageError):
        store.upsert_episode(replace(clash, chunks=(clash.chunks[0], stolen)))
    assert snapshot(store) == before
    assert not store.has_episode("ep9")


# --- embedded only: files, locks, read-only openers -------------------------------------------


def _child(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in another Python process (file locks are per process)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_embedded_persists_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "graph" / "db"
    store = make_graph_store("embedded", path=path).open()
    store.upsert_episode(episode_one())
    before = snapshot(store)
    store.close()
    store.close()  # closing twice is harmless
    reopened = make_graph_store("embedded", path=path, read_only=True).open()
    try:
        assert snapshot(reopened) == before
        with pytest.raises(StorageError):
            reopened.delete_episode("ep1")
    finally:
        reopened.close()


def test_embedded_second_writer_is_locked_out_but_readers_are_not(tmp_path: Path) -> None:
    path = tmp_path / "db"
    store = make_graph_store("embedded", path=path).open()
    try:
        store.upsert_episode(episode_one())
        result = _child(
            f"""
            from pathlib import Path
            from castgraph.core.errors import LockedError
            from castgraph.retrieval.graph import make_graph_store
            path = Path({str(path)!r})
            reader = make_graph_store("embedded", path=path, read_only=True).open()
            print("reader", sorted(reader.episode_ids()))
            reader.close()
            try:
                make_graph_store("embedded", path=path).open()
            except LockedError as exc:
                print("locked", exc)
            """
        )
    finally:
        store.close()
    assert result.returncode == 0, result.stderr
    assert "reader ['ep1']" in result.stdout
    assert "locked" in result.stdout and "another process" in result.stdout


def test_embedded_second_writer_in_another_process_raises_locked_error(tmp_path: Path) -> None:
    path = tmp_path / "db"
    # The lock is per process: the holder must be another process for this one to be refused.
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; "
            "from castgraph.retrieval.graph import make_graph_store; "
            f"s = make_graph_store('embedded', path=Path({str(path)!r})).open(); "
            "print('open', flush=True); sys.stdin.read()",
        ],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "open"
        with pytest.raises(LockedError, match="Could not set lock"):
            make_graph_store("embedded", path=path).open()
    finally:
        proc.communicate("", timeout=60)


def test_embedded_reader_follows_a_writer_in_another_process(tmp_path: Path) -> None:
    path = tmp_path / "graph" / "db"
    reader = make_graph_store("embedded", path=path, read_only=True).open()
    try:
        # Before any writer created the database, a reader sees an empty graph.
        assert reader.episode_ids() == set() and reader.stats().chunks == 0
        assert not path.exists()
        writer = f"""
            from pathlib import Path
            from castgraph.retrieval.graph import make_graph_store
            from tests.integration.test_graph_contract import episode_one
            store = make_graph_store("embedded", path=Path({str(path)!r})).open()
            store.{{}}
            store.close()
            """
        result = _child(writer.format("upsert_episode(episode_one())"))
        assert result.returncode == 0, result.stderr
        assert reader.episode_ids() == {"ep1"}
        version = reader.version()
        result = _child(writer.format("delete_episode('ep1')"))
        assert result.returncode == 0, result.stderr
        assert reader.episode_ids() == set() and reader.version() != version
    finally:
        reader.close()
    with pytest.raises(StorageError, match="not open"):
        reader.episode_ids()
