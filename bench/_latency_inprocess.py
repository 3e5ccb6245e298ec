"""The plain-Chroma baseline and the in-process measurements of ``bench/search_latency.py``.

The baseline is a minimal FastAPI app over the same Chroma collection whose endpoint only embeds
the query (same embedder) and calls ``collection.query(query_embeddings=[v], n_results=10)``,
returning ids, documents, metadatas and distances: the HTTP stack is the same, the search is
plain Chroma. In-process (no server running): both searches from ``--clients`` threads without
HTTP, and, one query at a time, how long each stage of a fused search takes. Stages are found by
name; a stage whose class or method no longer exists is left out rather than failing the run.
"""

from __future__ import annotations

import argparse
import importlib
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

from _latency_build import settings_for
from _latency_load import Measured, measure

# (label, module, attribute path); indented labels run inside the one above.
STAGES = (
    ("SearchService.search (all)", "castgraph.retrieval.search", "SearchService.search"),
    ("vector retriever", "castgraph.retrieval.vector", "ChromaVectorIndex.search"),
    ("vector retriever (flat)", "castgraph.retrieval.vector.flat", "FlatVectorIndex.search"),
    ("  query embedding", "", "embed_query"),
    ("keyword retriever", "castgraph.retrieval.keyword", "SqliteKeywordIndex.search"),
    ("graph retriever", "castgraph.retrieval.graph.retriever", "GraphRetriever.search"),
    ("  read model version check", "castgraph.retrieval.graph.readmodel", "GraphReadModel.version"),
    ("  entity linking", "castgraph.retrieval.graph.linking", "EntityLinker.link"),
    ("    n-gram embeddings", "", "embed"),
    ("  mentions (read model)", "castgraph.retrieval.graph.readmodel", "GraphReadModel.mentions"),
    ("  relations (read model)", "castgraph.retrieval.graph.readmodel", "GraphReadModel.relations"),
    ("fusion (RRF)", "castgraph.retrieval.search", "reciprocal_rank_fusion"),
    ("visible episodes", "castgraph.api.services", "VisibleEpisodes.__call__"),
    ("chunk lookup (keyword.get)", "castgraph.retrieval.keyword", "SqliteKeywordIndex.get"),
)


class StageTimer:
    """Accumulates the time spent in patched functions, per label (one query at a time)."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}

    def wrap(self, label: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                elapsed = (time.perf_counter() - started) * 1000
                self.totals[label] = self.totals.get(label, 0.0) + elapsed

        return timed

    @contextmanager
    def patched(self, targets: Sequence[tuple[str, Any, str]]) -> Iterator[None]:
        with ExitStack() as stack:
            for label, owner, attribute in targets:
                wrapper = self.wrap(label, getattr(owner, attribute))
                stack.enter_context(mock.patch.object(owner, attribute, wrapper))
            yield


def stage_targets(embedder_class: type) -> list[tuple[str, Any, str]]:
    """(label, owner, attribute) of every stage that exists in this version of the code."""
    found = []
    for label, module, path in STAGES:
        owner: Any = embedder_class
        try:
            if module:
                owner = importlib.import_module(module)
                for part in path.split(".")[:-1]:
                    owner = getattr(owner, part)
            attribute = path.split(".")[-1]
            getattr(owner, attribute)
        except (ImportError, AttributeError):
            continue
        found.append((label, owner, attribute))
    return found


def split(
    services: Any, queries: Sequence[str], embedder_class: type, max_seconds: float
) -> dict[str, list[float]]:
    """Per query (until ``max_seconds``), ms in each stage of a search and of its JSON."""
    from castgraph.api.schemas import SearchHit, SearchResponse

    timer = StageTimer()
    targets = stage_targets(embedder_class)
    per_stage: dict[str, list[float]] = {t[0]: [] for t in targets}
    per_stage["response model + JSON"] = []
    with timer.patched(targets):
        deadline = time.perf_counter() + max_seconds
        for query in queries:
            if time.perf_counter() > deadline:
                break
            timer.totals = {}
            results = services.search.search(query, 10)
            started = time.perf_counter()
            body = SearchResponse(query=query, results=[SearchHit.of(r) for r in results])
            body.model_dump_json()
            timer.totals["response model + JSON"] = (time.perf_counter() - started) * 1000
            for label, values in per_stage.items():  # 0 where a stage did not run
                values.append(timer.totals.get(label, 0.0))
    return per_stage


def in_process(
    data_dir: Path, args: argparse.Namespace, queries: Sequence[str]
) -> tuple[Measured, Measured, dict[str, list[float]]]:
    """Fused and plain searches from ``--clients`` threads without HTTP, and the stage split."""
    from castgraph.api import wiring
    from castgraph.retrieval.embeddings import make_embedder
    from castgraph.retrieval.embeddings.base import one_blas_thread

    one_blas_thread()  # as castgraph serve does; the plain baseline below runs with it too
    settings = settings_for(data_dir, args.models_dir, args.embedder)
    services = wiring.open_services(settings, read_only=True)
    try:
        services.search.search(queries[0], 10)  # loads the model and the linker's tables
        embedder_class = type(make_embedder(args.embedder, models_dir=args.models_dir))
        stages = split(services, queries, embedder_class, args.max_seconds)
        fused = measure(lambda q: services.search.search(q, 10), queries, args)
    finally:
        services.close()
    plain = plain_chroma(data_dir, args.embedder, args.models_dir)
    baseline = measure(lambda q: plain(q, 10), queries, args)
    return fused, baseline, stages


def plain_chroma(
    data_dir: Path, embedder_name: str, models_dir: Path
) -> Callable[[str, int], dict[str, Any]]:
    """A plain Chroma search: embed the query, ``collection.query``, the hits' fields."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from castgraph.retrieval.embeddings import make_embedder
    from castgraph.retrieval.vector import _embedding_function as ef
    from castgraph.retrieval.vector.chroma import collection_name

    embedder = make_embedder(embedder_name, models_dir=models_dir)
    ef.register()
    client = chromadb.PersistentClient(
        path=str(data_dir / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    name = collection_name("chunks", embedder.name, embedder.dimension)
    function: Any = ef.CastgraphEmbeddingFunction(embedder)
    collection: Any = client.get_collection(name, embedding_function=function)

    def search(query: str, k: int = 10) -> dict[str, Any]:
        found = collection.query(query_embeddings=[embedder.embed_query(query)], n_results=k)
        return {key: found[key][0] for key in ("ids", "documents", "metadatas", "distances")}

    return search


def baseline_app(data_dir: Path, embedder_name: str, models_dir: Path) -> Any:
    """A FastAPI app whose ``/search`` is ``plain_chroma`` and nothing else (with one BLAS
    thread, as ``castgraph serve`` sets: the same embedder, configured alike)."""
    from fastapi import FastAPI

    from castgraph.retrieval.embeddings.base import one_blas_thread

    one_blas_thread()
    plain = plain_chroma(data_dir, embedder_name, models_dir)
    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/search")
    def search(q: str, k: int = 10) -> dict[str, Any]:
        return plain(q, k)

    return app
