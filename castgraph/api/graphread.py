"""Opens the graph read model beside the graph store, and brings it up to the graph at start.

A data directory written before the read model existed (or whose read model file was deleted,
or is of an older schema) holds a graph and no read model: the read model is rebuilt here from
the catalog's documents of the graph's episodes, once, before the server answers.
"""

from __future__ import annotations

import logging
import time

from castgraph.catalog import SqlCatalog
from castgraph.core.settings import Settings
from castgraph.retrieval.graph.base import GraphSearchReader, GraphStore
from castgraph.retrieval.graph.readmodel import GraphReadModel, reconcile

log = logging.getLogger(__name__)


def open_read_model(
    settings: Settings, graph: GraphStore, catalog: SqlCatalog, *, read_only: bool = False
) -> GraphReadModel:
    """The read model at ``settings.graph_read_path``, holding the graph's episodes (when
    writable); the caller closes it."""
    model = GraphReadModel(settings.graph_read_path, read_only=read_only).open()
    if read_only:
        return model
    try:
        started = time.perf_counter()
        written, removed = reconcile(model, graph.episode_ids(), catalog.document)
    except BaseException:
        model.close()
        raise
    if written or removed:
        log.info(
            "graph read model brought up to the graph",
            extra={
                "written": written,
                "removed": removed,
                "seconds": round(time.perf_counter() - started, 2),
            },
        )
    return model


def search_reader(model: GraphReadModel, graph: GraphStore) -> GraphSearchReader:
    """What graph search reads: the read model, unless a read-only process finds none usable
    beside a graph with episodes (the writer has not upgraded the data directory yet)."""
    if model.read_only and not (model.ready and model.episode_ids()) and graph.episode_ids():
        log.warning("no graph read model yet: graph search reads the graph store")
        return graph
    return model
