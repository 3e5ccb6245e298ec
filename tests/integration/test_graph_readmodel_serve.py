"""Serve's wiring keeps the graph read model in step with the real embedded graph (LadybugDB):
indexing, deleting and re-processing through ``services.indexer``, queue mode's ``IndexSync``
from the catalog, and a data directory without a read model (written before it existed) is
rebuilt from the catalog at start. In every state, what graph search reads from the read model
equals what the graph store holds, and graph search runs over the read model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from castgraph.api import wiring
from castgraph.api.queue.front import IndexSync, SyncState
from castgraph.api.services import Services
from castgraph.catalog import SqlCatalog
from castgraph.core.models import EpisodeState, chunk_build
from castgraph.core.settings import Settings
from castgraph.retrieval.graph.base import GraphSearchReader
from castgraph.retrieval.graph.readmodel import GraphReadModel
from tests import corpus
from tests.reprocess_world import NEW_TEXT, OLD_TEXT, Transcriber, ingest, pipeline

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", embedding_model="hash")


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    opened = wiring.open_services(settings)
    yield opened
    opened.close()


def searched(services: Services) -> GraphSearchReader:
    """What the graph retriever of ``services`` reads."""
    retriever = services.search._retrievers["graph"]
    return retriever.store  # type: ignore[attr-defined, no-any-return]


def view(reader: GraphSearchReader) -> tuple[object, ...]:
    """Everything graph search reads, comparable between the graph and the read model."""
    entities = sorted(reader.entities(), key=lambda e: e.key)
    keys = [e.key for e in entities]
    mentions = sorted(reader.mentions(keys), key=lambda m: (m.entity_key, m.chunk.id))
    relations = sorted(
        (r.source_key, r.target_key, r.type, r.weight, sorted(r.chunk_ids))
        for r in reader.relations(keys)
    )
    return entities, mentions, relations


def in_step(settings: Settings, services: Services, episodes: set[str]) -> GraphReadModel:
    """The read model (read by another opener, as a second process would) agrees with the graph
    and holds ``episodes``."""
    assert services.graph is not None
    with GraphReadModel(settings.graph_read_path, read_only=True) as model:
        assert model.episode_ids() == services.graph.episode_ids() == episodes
        assert view(model) == view(services.graph)
        assert model.stats().mentions == services.graph.stats().mentions
    return model


def test_index_delete_and_reprocess_keep_the_read_model_in_step(
    settings: Settings, services: Services, tmp_path: Path
) -> None:
    assert isinstance(searched(services), GraphReadModel)
    ids = corpus.load(services)
    in_step(settings, services, set(ids.values()))
    assert view(searched(services))[1], "the corpus has mentions"
    results = services.search.search("Parque Lezama sensores", 5)
    assert any(r.signals.get("graph") for r in results)

    services.delete_episode(ids["pan"])
    in_step(settings, services, {ids["calor"], ids["roofs"]})

    pipe = pipeline(services.catalog, tmp_path / "media", services.indexer, Transcriber(OLD_TEXT))
    ingest(pipe)
    islas = episode_by_title(services.catalog, "Islas de calor")
    in_step(settings, services, {ids["calor"], ids["roofs"], islas})
    first = {m.chunk.id for m in searched(services).mentions(["calor"])}
    again = pipeline(services.catalog, tmp_path / "media", services.indexer, Transcriber(NEW_TEXT))
    ingest(again, force=True)
    in_step(settings, services, {ids["calor"], ids["roofs"], islas})
    mine = [m.chunk.id for m in searched(services).mentions(["calor"]) if islas in m.chunk.id]
    assert mine and {chunk_build(i) for i in mine} == {1}
    assert not {i for i in first if islas in i} & set(mine)


def episode_by_title(catalog: SqlCatalog, title: str) -> str:
    return next(e.id for e in catalog.list_episodes() if e.title == title)


def test_a_data_dir_without_a_read_model_is_rebuilt_at_start_and_by_reindex(
    settings: Settings,
) -> None:
    services = wiring.open_services(settings)
    ids = corpus.load(services)
    services.close()
    for path in settings.data_dir.glob("graph-read.sqlite*"):
        path.unlink()

    reader = wiring.open_services(settings, read_only=True)  # a reader never writes it...
    try:
        assert (
            reader.graph is not None and searched(reader) is reader.graph
        )  # ...it reads the graph
        assert reader.search.search("Parque Lezama sensores", 5)
    finally:
        reader.close()
    services = wiring.open_services(settings)
    try:
        model = searched(services)
        assert isinstance(model, GraphReadModel)
        in_step(settings, services, set(ids.values()))
        model.clear()  # and `castgraph reindex` rewrites it whole
        assert wiring.reindex(services) == (3, 0)
        in_step(settings, services, set(ids.values()))
    finally:
        services.close()


def test_index_sync_keeps_serves_read_model_in_step_with_the_catalog(
    settings: Settings, services: Services, tmp_path: Path
) -> None:
    # Queue mode: workers write the catalog only; serve brings its own files up from it.
    ids = corpus.load(services, index=False)
    sync = IndexSync(services, SyncState(tmp_path / "sync.sqlite"))
    assert sync.run_once() == (3, 0)
    in_step(settings, services, set(ids.values()))

    services.catalog.set_state(ids["roofs"], EpisodeState.FAILED)  # no longer to be indexed
    assert sync.run_once() == (0, 1)
    in_step(settings, services, {ids["calor"], ids["pan"]})
