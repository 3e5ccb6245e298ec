"""Builds the configured indexes and the search service over them (part of the composition root)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from castgraph.api.services import Services, VisibleEpisodes
from castgraph.catalog import SqlCatalog
from castgraph.core.settings import Settings
from castgraph.retrieval.answer import AnswerService
from castgraph.retrieval.base import Retriever
from castgraph.retrieval.embeddings.base import TextEmbedder, one_blas_thread
from castgraph.retrieval.graph.linking import EntityLinker
from castgraph.retrieval.graph.retriever import GraphRetriever
from castgraph.retrieval.indexer import ChunkIndex, StoresIndexer, graph_writes
from castgraph.retrieval.rerank import Reranker
from castgraph.retrieval.search import SearchOptions, SearchService
from castgraph.retrieval.warm import read_ahead

if TYPE_CHECKING:
    from castgraph.retrieval.generation import GeneratorBackend
    from castgraph.retrieval.graph.base import GraphStore
    from castgraph.retrieval.graph.readmodel import GraphReadModel
    from castgraph.retrieval.keyword import KeywordIndex
    from castgraph.retrieval.vector import VectorIndex


def build(
    settings: Settings,
    catalog: SqlCatalog,
    closers: list[Callable[[], None]],
    *,
    read_only: bool = False,
    local_vectors: bool = True,
    search_workers: bool = False,
) -> Services:
    """Open keyword, vector and graph stores (registering their ``close`` in ``closers``).

    ``read_only``: nothing is written (the keyword index and graph open read-only). Without
    ``local_vectors`` an embedded vector database is not opened at all: Chroma has no read-only
    mode, so a process beside the data directory's writer must not open it (issue 13).
    ``search_workers``: keyword and graph search run in ``settings.search_processes`` worker
    processes each (when above 0; for the server, not for one-shot commands)."""
    from castgraph.retrieval.keyword import keyword_index

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    keyword = keyword_index(settings, read_only=read_only).open()
    closers.append(keyword.close)
    embedder = _embedder(settings)
    vector = _vector(settings, embedder, closers, local=local_vectors, read_only=read_only)
    retrievers: dict[str, Retriever] = {"vector": vector} if vector is not None else {}
    retrievers["keyword"] = keyword
    health = {"keyword": keyword.check, **({"vector": vector.check} if vector else {})}
    graph_retriever: GraphRetriever | None = None
    graph = _graph(settings, read_only)
    read_model = None
    if graph is not None:
        from castgraph.api.graphread import open_read_model, search_reader

        closers.append(graph.close)
        read_model = open_read_model(settings, graph, catalog, read_only=read_only)
        closers.append(read_model.close)
        graph_retriever = GraphRetriever(
            search_reader(read_model, graph), embedder=embedder, hops=settings.graph_hops
        )
        retrievers["graph"] = graph_retriever
        health["graph"] = partial(_check_graph, graph, read_model)
    if search_workers and not read_only:
        _for_the_server(settings, retrievers, closers, health)
    visible = VisibleEpisodes(catalog)
    search = SearchService(
        retrievers,
        keyword,
        visible=visible,
        options=_options(settings),
        reranker=_reranker(settings),
        refresh=visible.invalidate,
        # Enough retriever threads that the admitted searches never queue for one.
        threads=settings.max_inflight * max(1, len(retrievers) - 1),
    )
    closers.append(search.close)  # closed first: no retriever thread outlives its store

    def index_ids() -> set[str]:
        ids = keyword.episode_ids() | (vector.episode_ids() if vector is not None else set())
        if graph is not None and read_model is not None:
            ids |= graph.episode_ids() | read_model.episode_ids()
        return ids

    # The read model is this process's file: written wherever the graph is, and by the local
    # indexer (queue mode's IndexSync) even when the graph is a shared Neo4j the workers write.
    local = StoresIndexer(
        None if keyword.shared else keyword,
        None if vector is None or vector.shared else vector,
        graph_writes(graph if settings.graph_backend == "embedded" else None, read_model),
    )
    return Services(
        catalog=catalog,
        search=search,
        indexer=None
        if read_only
        else StoresIndexer(keyword, vector, graph_writes(graph, read_model)),
        local_indexer=None if read_only else local,
        closers=closers,
        visible=visible,
        index_episode_ids=index_ids,
        graph=graph,
        answers=answers(settings, search, embedder, graph_retriever),
        health=health,
    )


def _for_the_server(
    settings: Settings,
    retrievers: dict[str, Retriever],
    closers: list[Callable[[], None]],
    health: dict[str, Callable[[], None]],
) -> None:
    """Search as the server runs it: in worker processes when ``settings.search_processes``
    says so (keyword, graph, and vectors when their backend opens read-only: not Chroma); what
    stays here reads its caches ahead (the flat vector index its matrix)."""
    from castgraph.retrieval.vector import supports_read_only

    here: dict[str, object] = dict(retrievers)
    if settings.search_processes:
        moved = supports_read_only(settings)
        names = tuple(n for n in retrievers if n != "vector" or moved)
        graph = retrievers.get("graph")
        retrievers.update(_in_processes(settings, names, closers, health))
        here = {name: r for name, r in here.items() if name not in names}
        llm = _generator_backend(settings) != "extractive"
        if "graph" in names and isinstance(graph, GraphRetriever) and llm:
            here["entity names"] = _NamesAhead(graph.linker)  # an LLM's facts link here
    read_ahead(here)


@dataclass(frozen=True)
class _NamesAhead:
    """Reads ahead only the entity names of a graph retriever whose searches moved to worker
    processes: answers by an LLM still link a question's entities here, for relation facts."""

    linker: EntityLinker

    def warm(self) -> None:
        self.linker.prepare()


def _in_processes(
    settings: Settings,
    names: tuple[str, ...],
    closers: list[Callable[[], None]],
    health: dict[str, Callable[[], None]],
) -> dict[str, Retriever]:
    """Stand-ins for retrievers ``names``: each runs in ``settings.search_processes`` worker
    processes of its own, over the same files opened read-only (``worker_retrievers``). A pool
    per retriever lets one query's searches run at once, and keeps one copy of each retriever's
    caches (and the embedding model only where vector or graph search needs it).
    Each retriever's health probe also fails while its workers are down."""
    from castgraph.retrieval.processes import RetrieverProcesses

    stand_ins: dict[str, Retriever] = {}
    for name in names:
        factory = partial(worker_retrievers, settings, (name,))
        processes = RetrieverProcesses(factory, (name,), settings.search_processes).start()
        closers.append(processes.close)
        stand_ins[name] = processes.retriever(name)
        health[name] = partial(_check_both, health[name], processes.check)
    return stand_ins


def _check_both(first: Callable[[], None], second: Callable[[], None]) -> None:
    first()
    second()


def worker_retrievers(
    settings: Settings, names: tuple[str, ...] = ("keyword", "graph")
) -> tuple[dict[str, Retriever], Callable[[], None]]:
    """A search worker process's retrievers among ``names`` (read-only) and their closer."""
    from castgraph.api.logs import configure_logging
    from castgraph.retrieval.graph.readmodel import GraphReadModel
    from castgraph.retrieval.keyword import keyword_index
    from castgraph.retrieval.vector import vector_index

    configure_logging(settings.log_level, settings.log_format)
    one_blas_thread()  # as in the server: spinning BLAS threads tripled a search's CPU here
    closers: list[Callable[[], None]] = []
    retrievers: dict[str, Retriever] = {}
    if "vector" in names:
        vector = vector_index(settings, _embedder(settings), read_only=True).open()
        closers.append(vector.close)
        retrievers["vector"] = vector
    if "keyword" in names:
        keyword = keyword_index(settings, read_only=True).open()
        closers.append(keyword.close)
        retrievers["keyword"] = keyword
    if "graph" in names and settings.graph_backend != "none":
        model = GraphReadModel(settings.graph_read_path, read_only=True).open()
        closers.append(model.close)
        retrievers["graph"] = GraphRetriever(
            model, embedder=_embedder(settings), hops=settings.graph_hops
        )

    def close() -> None:
        for closer in reversed(closers):
            closer()

    return retrievers, close


def _check_graph(graph: GraphStore, read_model: GraphReadModel) -> None:
    """Both what graph search reads and what answers' facts read must answer."""
    read_model.check()
    graph.version()


def _vector(
    settings: Settings,
    embedder: TextEmbedder,
    closers: list[Callable[[], None]],
    *,
    local: bool,
    read_only: bool,
) -> VectorIndex | None:
    """The opened vector index; None when it is a local database without a read-only mode and
    ``local`` is False."""
    from castgraph.retrieval.vector import supports_read_only, vector_index

    vector = vector_index(settings, embedder, read_only=read_only)
    if not (local or vector.shared or supports_read_only(settings)):
        return None
    closers.append(vector.open().close)
    return vector


def _embedder(settings: Settings) -> TextEmbedder:
    """The configured embedder, not loaded yet."""
    from castgraph.retrieval.embeddings import make_embedder

    return make_embedder(
        settings.embedding_model,
        models_dir=settings.resolved_models_dir,
        device=settings.embedding_device,
    )


def shared_indexer(settings: Settings, closers: list[Callable[[], None]]) -> StoresIndexer | None:
    """The indexes a queue worker writes: only the shared servers (a Chroma server, Neo4j).
    Local files (the keyword index, embedded vectors and graph) belong to each ``castgraph
    serve``, which brings them up to date from the catalog (``IndexSync``)."""
    from castgraph.retrieval.keyword import keyword_index
    from castgraph.retrieval.vector import vector_index

    keyword = _opened_if_shared(keyword_index(settings), closers)
    vector = _opened_if_shared(vector_index(settings, _embedder(settings)), closers)
    graph = _graph(settings, False) if settings.graph_backend == "neo4j" else None
    if graph is not None:
        closers.append(graph.close)
    return StoresIndexer(keyword, vector, graph) if keyword or vector or graph else None


def _opened_if_shared(
    index: KeywordIndex | VectorIndex, closers: list[Callable[[], None]]
) -> ChunkIndex | None:
    """``index`` opened when it lives in a shared server, else None (serve syncs its files)."""
    if not index.shared:
        return None
    closers.append(index.open().close)
    return index


def _graph(settings: Settings, read_only: bool):  # type: ignore[no-untyped-def]
    if settings.graph_backend == "none":
        return None
    from castgraph.retrieval.graph import make_graph_store

    if settings.graph_backend == "neo4j":
        return make_graph_store(
            "neo4j",
            uri=settings.neo4j_uri,
            user=settings.neo4j_user,
            password=settings.neo4j_password.get_secret_value()
            if settings.neo4j_password
            else None,
            database=settings.neo4j_database,
        ).open()
    return make_graph_store("embedded", path=settings.graph_path, read_only=read_only).open()


def _options(settings: Settings) -> SearchOptions:
    return SearchOptions(
        weights={
            "vector": settings.weight_vector,
            "keyword": settings.weight_keyword,
            "graph": settings.weight_graph,
        },
        candidates=settings.search_candidates,
    )


def _reranker(settings: Settings) -> Reranker | None:
    """The configured cross-encoder, else one installed in ``models/rerankers/``, else none."""
    from castgraph.retrieval.rerank import CrossEncoderReranker, installed_reranker

    models_dir = settings.resolved_models_dir
    name = settings.rerank_model or installed_reranker(models_dir)
    return CrossEncoderReranker(name, models_dir=models_dir) if name else None


def _generator_backend(settings: Settings) -> GeneratorBackend:
    """The answer generator ``settings`` choose ("auto": an LLM when one is configured)."""
    if settings.generator != "auto":
        return settings.generator
    if settings.llm_base_url:
        return "openai"
    return "llamacpp" if settings.llm_model_path else "extractive"


def answers(
    settings: Settings,
    search: SearchService,
    embedder: object,
    graph: GraphRetriever | None,
) -> AnswerService:
    """The answer service with the configured generator (and the extractive one as fallback)."""
    from castgraph.retrieval.generation import make_generator
    from castgraph.retrieval.generation.moments import embedding_similarity

    backend = _generator_backend(settings)
    extractive = make_generator("extractive", embedder=embedder)
    generator = (
        extractive
        if backend == "extractive"
        else make_generator(
            backend,
            base_url=settings.llm_base_url,
            model=settings.llm_model,
            api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
            model_path=settings.llm_model_path,
            timeout=settings.llm_timeout,
            max_tokens=settings.llm_max_tokens,
            queue=settings.llm_queue,
        )
    )
    llm = backend != "extractive"

    def facts(query: str) -> list[str]:
        assert graph is not None
        return [f"{f.source_name} —{f.type}→ {f.target_name}" for f in graph.facts(query, limit=8)]

    return AnswerService(
        search,
        generator,
        fallback=extractive if llm and settings.llm_fallback == "extractive" else None,
        condense_with_llm=llm,
        facts=facts if llm and graph is not None else None,
        similarity=embedding_similarity(embedder),  # type: ignore[arg-type]
        check_figures=llm,
    )
