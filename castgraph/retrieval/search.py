"""Hybrid search: vector, keyword and graph retrievers fused by reciprocal rank.

Only episodes the catalog marks ``indexed`` are visible, so an episode that is being indexed
for the first time never shows half-written results; and of a visible episode only its live
build's chunks are, so a re-process running beside it (or a build it replaced whose entries are
not yet removed) never shows, and one search never mixes two builds of an episode.

A retriever that fails (its server down, its file unreadable) does not fail the search: the
others' results are fused and the failure is reported beside them (``SearchOutcome.degraded``);
only when every retriever fails, or the chunk lookup does, is the failure raised.

The retrievers of one query run concurrently: those in worker processes
(``retrieval.processes``) are started first; of the others the calling thread runs the first
and a bounded thread pool owned by the service (or one it is given) runs the rest, so a query
takes about as long as its slowest retriever rather than the sum of all three.
"""

from __future__ import annotations

import contextvars
import logging
import os
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_all
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

from castgraph.core.errors import InputError
from castgraph.core.models import Chunk, chunk_build
from castgraph.core.timefmt import moment_link
from castgraph.retrieval.base import Hit, Retriever, SearchFilters
from castgraph.retrieval.fusion import RRF_K, Fused, reciprocal_rank_fusion
from castgraph.retrieval.processes import PendingHits, SubmittingRetriever
from castgraph.retrieval.rerank import Reranker

log = logging.getLogger(__name__)

RETRIEVERS = ("vector", "keyword", "graph")
MAX_QUERY_CHARS = 1000
MAX_K = 100
MIN_WINDOW = 10
"""Fused candidates looked up at a time (at least ``k`` of them)."""
DEFAULT_THREADS = 8
"""Retriever threads of a service that is given no pool and no size (the CLI, benchmarks)."""

Visible = Mapping[str, int] | Collection[str]
"""``{episode id: live build}``; a plain collection of ids filters by episode only."""


class ChunkLookup(Protocol):
    """Fetches chunks by id (the keyword index keeps every chunk's fields)."""

    def get(self, ids: Sequence[str]) -> dict[str, Chunk]:
        """The chunks that exist among ``ids``."""
        ...


@dataclass(frozen=True, slots=True)
class SearchResult:
    """A moment that answers a query: the chunk, its fused score and which retrievers found it."""

    chunk: Chunk
    score: float
    signals: dict[str, int | None]

    @property
    def link(self) -> str:
        return moment_link(self.chunk.url, self.chunk.start, self.chunk.episode_id)


@dataclass(frozen=True, slots=True)
class Degraded:
    """A component that failed during a search, and why (the search went on without it)."""

    component: str
    message: str


@dataclass(frozen=True, slots=True)
class SearchOutcome:
    """The results of a search, and the retrievers it had to do without (empty: none)."""

    results: list[SearchResult]
    degraded: tuple[Degraded, ...] = ()


@dataclass(frozen=True, slots=True)
class SearchOptions:
    """How results are fused: weights per retriever, candidates per retriever, RRF constant."""

    weights: Mapping[str, float] = field(
        default_factory=lambda: {"vector": 1.0, "keyword": 1.0, "graph": 1.0}
    )
    candidates: int = 50
    rrf_k: int = RRF_K
    rerank_top: int = 30


class SearchService:
    """Runs the configured retrievers, fuses, filters to visible episodes, optionally reranks."""

    def __init__(
        self,
        retrievers: Mapping[str, Retriever],
        chunks: ChunkLookup,
        *,
        visible: Callable[[], Visible],
        options: SearchOptions | None = None,
        reranker: Reranker | None = None,
        refresh: Callable[[], None] | None = None,
        executor: Executor | None = None,
        threads: int = DEFAULT_THREADS,
        concurrent_up_to: int | None = None,
    ) -> None:
        """``executor`` runs retrievers beside the calling thread (its owner shuts it down);
        without one, the service starts its own pool of at most ``threads`` threads on first
        use and shuts it down in ``close()``. While more than ``concurrent_up_to`` searches
        (default: the CPU count) are in flight, each runs its retrievers on its own thread."""
        if threads < 1:
            raise ValueError("threads must be at least 1")
        self._retrievers = dict(retrievers)
        self._remote = {
            n: r for n, r in self._retrievers.items() if isinstance(r, SubmittingRetriever)
        }
        self._chunks = chunks
        self._visible = visible
        self._refresh = refresh
        self._options = options or SearchOptions()
        self._reranker = reranker
        self._executor = executor
        self._owns_executor = executor is None
        self._threads = threads
        self._pool_lock = threading.Lock()
        self._closed = False
        self._count_lock = threading.Lock()
        self._in_flight = 0
        self._concurrent_up_to = concurrent_up_to or os.cpu_count() or 1

    def search(
        self, query: str, k: int = 10, filters: SearchFilters | None = None
    ) -> list[SearchResult]:
        """The ``k`` best moments for ``query``; an empty index gives []."""
        return self.search_outcome(query, k, filters).results

    def search_outcome(
        self, query: str, k: int = 10, filters: SearchFilters | None = None
    ) -> SearchOutcome:
        """As ``search``, with the retrievers that failed and were left out (``degraded``)."""
        query = validate_query(query, k)
        filters = filters or SearchFilters()
        with self._count_lock:
            self._in_flight += 1
        try:
            return self._outcome(query, k, filters)
        finally:
            with self._count_lock:
                self._in_flight -= 1

    def _outcome(self, query: str, k: int, filters: SearchFilters) -> SearchOutcome:
        degraded: dict[str, Degraded] = {}
        want = max(k, self._options.rerank_top) if self._reranker is not None else k
        results = self._filtered(query, filters, degraded, want)
        if results is None:  # an index changed under this search (a swap retired a build)
            log.debug("search repeated: ranked chunks went missing before their lookup")
            results = self._filtered(query, filters, degraded, want, last=True) or []
        if self._reranker is not None and results:
            results = self._rerank(query, results)
        return SearchOutcome(results[:k], tuple(degraded.values()))

    def _filtered(
        self,
        query: str,
        filters: SearchFilters,
        degraded: dict[str, Degraded],
        want: int,
        *,
        last: bool = False,
    ) -> list[SearchResult] | None:
        """The best ``want`` fused results of the episodes' live builds; None (unless ``last``)
        when ranked chunks were gone by the time they were looked up: worth one more try, as a
        build may have been swapped in and the old one removed meanwhile (indexes left
        inconsistent by a crash cost the same second try until ``castgraph reindex`` drops
        their leftovers)."""
        rankings = self._rankings(query, filters, degraded)
        fused = reciprocal_rank_fusion(rankings, self._options.weights, k=self._options.rrf_k)
        results: list[SearchResult] = []
        start, size = 0, max(want, MIN_WINDOW)
        # Only the head is looked up: the fused list holds up to three retrievers' candidates
        # (~130), and reading and decoding every chunk cost more than fusing them. Windows
        # double while episodes being indexed, or other builds, thin the head out.
        while start < len(fused) and len(results) < want:
            window = fused[start : start + size]
            start, size = start + size, size * 2
            found = self._chunks.get([f.chunk_id for f in window])
            if not last and len(found) < len({f.chunk_id for f in window}):
                return None
            results += self._live_results(window, found, filters)
        return results[:want]

    def _live_results(
        self, window: Sequence[Fused], found: Mapping[str, Chunk], filters: SearchFilters
    ) -> list[SearchResult]:
        """The chunks of ``window`` that were found, are of a live build and match."""
        # Read after the lookup: a swap commits in the catalog before the old build goes.
        visible = self._visible()
        if self._refresh is not None and _stale(visible, found.values()):
            self._refresh()
            visible = self._visible()
        return [
            SearchResult(found[f.chunk_id], f.score, _signals(f.ranks))
            for f in window
            if f.chunk_id in found
            and _live(visible, found[f.chunk_id])
            and filters.matches(found[f.chunk_id])
        ]

    def rankings(self, query: str, filters: SearchFilters) -> dict[str, list[Hit]]:
        """Each retriever's own ranking (for benchmarks and debugging), in retriever order.

        The retrievers run concurrently; when any fails, the others are waited for (no work
        outlives the query) and the first failure in retriever order is raised."""
        rankings, failures = self._attempt(query, filters)
        if failures:
            raise next(iter(failures.values()))
        return rankings

    def _rankings(
        self, query: str, filters: SearchFilters, degraded: dict[str, Degraded]
    ) -> dict[str, list[Hit]]:
        """The rankings of the retrievers that answered; each that failed is logged and noted
        in ``degraded``. When every one failed, the first failure is raised."""
        rankings, failures = self._attempt(query, filters)
        refused: list[Exception] = [e for e in failures.values() if isinstance(e, InputError)]
        if refused or (failures and not rankings):  # the query's fault, or nothing answered
            raise (refused or list(failures.values()))[0]
        for name, exc in failures.items():
            message = str(exc) or type(exc).__name__
            log.warning(
                "retriever failed: searching without it",
                extra={"retriever": name, "error": message},
            )
            degraded[name] = Degraded(name, message)
        return rankings

    def _attempt(
        self, query: str, filters: SearchFilters
    ) -> tuple[dict[str, list[Hit]], dict[str, Exception]]:
        """Each retriever's ranking, and each failed retriever's exception, in retriever order."""
        rankings: dict[str, list[Hit]] = {}
        failures: dict[str, Exception] = {}
        # Retrievers in worker processes start first and run while this process works.
        started = self._submit_remote(query, filters, failures)
        names = [n for n in self._retrievers if n not in self._remote]
        # Concurrent retrievers cut a query's latency while cores are idle; once searches
        # outnumber the cores they only add hand-offs and GIL contention (measured at 100k
        # chunks, 20 clients on 2 cores: 15% fewer searches per second), so a busy service runs
        # a query's retrievers one after another on its own thread.
        busy = self._in_flight > self._concurrent_up_to
        pool = self._pool() if len(names) > 1 and not busy else None
        if pool is None:  # one retriever, a busy or a closed service: no hand-off
            for name in names:
                _settle(name, partial(self._run, name, query, filters), rankings, failures)
            return self._collect(started, rankings, failures)
        futures: dict[str, Future[list[Hit]]] = {
            # Each task gets its own copy of the caller's context (log fields, tracing).
            name: pool.submit(contextvars.copy_context().run, self._run, name, query, filters)
            for name in names[1:]
        }
        try:
            _settle(names[0], partial(self._run, names[0], query, filters), rankings, failures)
        finally:  # even when the first failed: no retriever outlives its query
            wait_all(futures.values())
        for name, future in futures.items():
            _settle(name, future.result, rankings, failures)
        return self._collect(started, rankings, failures)

    def _submit_remote(
        self, query: str, filters: SearchFilters, failures: dict[str, Exception]
    ) -> dict[str, PendingHits]:
        """Start the searches of the retrievers that run elsewhere (worker processes)."""
        started: dict[str, PendingHits] = {}
        for name, retriever in self._remote.items():
            try:
                started[name] = retriever.submit(query, self._options.candidates, filters)
            except Exception as exc:  # its workers are gone: the others still answer
                failures[name] = exc
        return started

    def _collect(
        self,
        started: Mapping[str, PendingHits],
        rankings: dict[str, list[Hit]],
        failures: dict[str, Exception],
    ) -> tuple[dict[str, list[Hit]], dict[str, Exception]]:
        """Wait for the started searches; both maps in retriever order."""
        for name, pending in started.items():
            _settle(name, pending.result, rankings, failures)
        order = list(self._retrievers)
        return (
            {n: rankings[n] for n in order if n in rankings},
            {n: failures[n] for n in order if n in failures},
        )

    def close(self) -> None:
        """Stop the service's own retriever threads (after the searches in flight); searches
        after this run their retrievers one after another. Safe to call twice."""
        with self._pool_lock:
            self._closed = True
            pool, self._executor = self._executor, None
        if pool is not None and self._owns_executor:
            pool.shutdown(wait=True)

    def _pool(self) -> Executor | None:
        with self._pool_lock:
            if self._executor is None and not self._closed:
                self._executor = ThreadPoolExecutor(
                    max_workers=self._threads, thread_name_prefix="castgraph-retriever"
                )
            return self._executor

    def _run(self, name: str, query: str, filters: SearchFilters) -> list[Hit]:
        started = time.perf_counter()
        hits = self._retrievers[name].search(query, self._options.candidates, filters)
        log.debug(
            "retriever done",
            extra={
                "retriever": name,
                "hits": len(hits),
                "ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return hits

    def _rerank(self, query: str, results: list[SearchResult]) -> list[SearchResult]:
        assert self._reranker is not None
        head = results[: self._options.rerank_top]
        scores = self._reranker.score(query, [r.chunk.text for r in head])
        ranked = sorted(zip(scores, head, strict=True), key=lambda pair: -pair[0])
        return [SearchResult(r.chunk, s, r.signals) for s, r in ranked] + results[len(head) :]


def _settle(
    name: str,
    ranking: Callable[[], list[Hit]],
    rankings: dict[str, list[Hit]],
    failures: dict[str, Exception],
) -> None:
    """Put the retriever's ranking, or the exception it raised, in its place."""
    try:
        rankings[name] = ranking()
    except Exception as exc:  # a store down or broken (or a refused query: the caller decides)
        failures[name] = exc


def validate_query(query: str, k: int) -> str:
    """The stripped query, or an InputError saying what is wrong with it."""
    text = query.strip()
    if not text:
        raise InputError("the query is empty: give a few words or a question")
    if len(text) > MAX_QUERY_CHARS:
        raise InputError(
            f"the query is {len(text)} characters long; the limit is {MAX_QUERY_CHARS}"
        )
    if not 1 <= k <= MAX_K:
        raise InputError(f"k must be between 1 and {MAX_K}, got {k}")
    return text


def _live(visible: Visible, chunk: Chunk) -> bool:
    if isinstance(visible, Mapping):
        return visible.get(chunk.episode_id) == chunk_build(chunk.id)
    return chunk.episode_id in visible


def _stale(visible: Visible, chunks: Iterable[Chunk]) -> bool:
    """Whether a cached ``visible`` may predate a swap: some visible episode was found only in
    another build than the live one it names (a re-process finished and removed the old one)."""
    if not isinstance(visible, Mapping):
        return False
    live: set[str] = set()
    other: set[str] = set()
    for chunk in chunks:
        build = visible.get(chunk.episode_id)
        if build is not None:
            (live if chunk_build(chunk.id) == build else other).add(chunk.episode_id)
    return bool(other - live)


def _signals(ranks: Mapping[str, int]) -> dict[str, int | None]:
    return {name: ranks.get(name) for name in RETRIEVERS}
