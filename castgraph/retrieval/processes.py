"""Retrievers that run in worker processes, so that one server's searches use every core.

Python runs one thread at a time per process (the GIL): at 100k chunks on 2 cores, a server's
20 concurrent searches kept about 1.3 cores busy, while the same searches split between two
processes answered 1.75x as many per second. The keyword and graph retrievers are mostly
Python, so they run here in a pool of worker processes; the vector retriever (its index in
native code, which releases the GIL) and everything after the rankings stay in the server.

Each worker builds its own retrievers once, from a picklable factory, over the same files the
server writes, opened read-only: the keyword index and the graph read model each notice another
process's writes (a generation or version row read per search), so a worker serves what the
server last committed. A worker that dies (killed, out of memory) fails the searches it had,
which the search service reports as degraded; a new pool starts ``RESTART_DELAY_S`` later.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Protocol, runtime_checkable

from castgraph.core.errors import StorageError
from castgraph.retrieval.base import Hit, Retriever, SearchFilters
from castgraph.retrieval.warm import read_ahead

log = logging.getLogger(__name__)

Built = tuple[Mapping[str, Retriever], Callable[[], None]]
"""A worker's retrievers by name, and what closes them."""
Factory = Callable[[], Built]
"""Builds a worker's retrievers; must be picklable (a module-level function or a partial)."""
Ranked = tuple[list[str], list[float]]
"""Hits as they travel back from a worker: chunk ids and scores."""
TIMEOUT_S = 30.0
"""How long a search waits for a worker before reporting its retriever failed."""
RESTART_DELAY_S = 5.0
"""How long after a worker stopped its searches are left out before a new one is started."""

_worker: dict[str, Retriever] = {}  # this worker process's retrievers (empty in the server)
_state = {"warming": False}


class PendingHits(Protocol):
    """A search under way; ``result()`` waits for its hits (or raises its failure)."""

    def result(self) -> list[Hit]: ...


@runtime_checkable
class SubmittingRetriever(Protocol):
    """A retriever that can start a search and return at once (the search service starts
    these first, runs the others meanwhile, then waits)."""

    def search(self, query: str, k: int, filters: SearchFilters) -> list[Hit]: ...

    def submit(self, query: str, k: int, filters: SearchFilters) -> PendingHits:
        """The search, started."""
        ...


class RetrieverProcesses:
    """A pool of ``processes`` worker processes, each with the retrievers ``factory`` builds.

    ``retriever(name)`` gives the server-side stand-in for one of them; the pool spreads
    searches over the workers. ``close()`` stops them (after the searches in flight).
    """

    def __init__(self, factory: Factory, names: tuple[str, ...], processes: int = 1) -> None:
        if processes < 1:
            raise ValueError("processes must be at least 1")
        self.names = names
        self._factory = factory
        self._processes = processes
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._closed = False
        self._retry_at = 0.0  # after a pool broke: no new one before this (time.monotonic)

    def start(self) -> RetrieverProcesses:
        """Start the workers now (each builds its retrievers and warms them); returns ``self``.
        Searches submitted before they are ready wait for them."""
        self._current()
        return self

    def check(self) -> None:
        """Raise StorageError while the workers are stopped or waiting to restart (the health
        probe; a working pool is not asked, so the probe costs nothing)."""
        with self._lock:
            self._refuse_if_down()

    def retriever(self, name: str) -> RemoteRetriever:
        """The stand-in that runs retriever ``name`` in a worker."""
        if name not in self.names:
            raise KeyError(name)
        return RemoteRetriever(self, name)

    def submit(self, name: str, query: str, k: int, filters: SearchFilters) -> PendingHits:
        """Retriever ``name``'s search, started in a worker."""
        pool = self._current()
        try:
            return _Pending(self, pool, pool.submit(_search, name, query, k, filters))
        except BrokenProcessPool as exc:
            raise self._broken(pool, exc) from exc

    def close(self) -> None:
        """Stop the workers; safe to call twice."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def _current(self) -> ProcessPoolExecutor:
        with self._lock:
            self._refuse_if_down()
            if self._pool is None:
                # spawn, not fork: the server has threads, open databases and model sessions.
                self._pool = ProcessPoolExecutor(
                    max_workers=self._processes,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_build,
                    initargs=(self._factory,),
                )
                for _ in range(self._processes):
                    self._pool.submit(_ready)
            return self._pool

    def _refuse_if_down(self) -> None:
        """(Under the lock.) Raise when closed, or when a broken pool is not to be replaced yet:
        a worker that cannot start (an unreadable file) would otherwise be spawned again for
        every search."""
        what = "/".join(self.names)
        if self._closed:
            raise StorageError(f"the {what} search worker processes were stopped")
        wait = self._retry_at - time.monotonic()
        if self._pool is None and wait > 0:
            raise StorageError(
                f"the {what} search worker process stopped; it restarts in {wait:.0f} s "
                "(see the server log for why)"
            )

    def _broken(self, pool: ProcessPoolExecutor, exc: BaseException) -> StorageError:
        """Drop a broken pool (when it is still the current one: the next search starts a new
        one) and say what happened."""
        with self._lock:
            current = self._pool is pool
            if current:
                self._pool = None
                self._retry_at = time.monotonic() + RESTART_DELAY_S
        if current:
            log.warning("search worker process stopped: starting a new pool")
            pool.shutdown(wait=False, cancel_futures=True)
        return StorageError(f"a search worker process stopped ({exc}); it is being restarted")


class _Pending:
    def __init__(
        self, owner: RetrieverProcesses, pool: ProcessPoolExecutor, future: Future[Ranked]
    ) -> None:
        self._owner, self._pool, self._future = owner, pool, future

    def result(self) -> list[Hit]:
        try:
            ids, scores = self._future.result(timeout=TIMEOUT_S)
            return [Hit(i, s) for i, s in zip(ids, scores, strict=True)]
        except BrokenProcessPool as exc:
            raise self._owner._broken(self._pool, exc) from exc
        except TimeoutError as exc:
            self._future.cancel()
            raise StorageError(f"a search worker gave no answer in {TIMEOUT_S:g} s") from exc


class RemoteRetriever:
    """One retriever of a ``RetrieverProcesses``, as the search service sees it."""

    def __init__(self, processes: RetrieverProcesses, name: str) -> None:
        self._processes = processes
        self.name = name

    def search(self, query: str, k: int, filters: SearchFilters) -> list[Hit]:
        return self.submit(query, k, filters).result()

    def submit(self, query: str, k: int, filters: SearchFilters) -> PendingHits:
        """The search started in a worker; ``result()`` raises StorageError when the worker
        stopped or did not answer in ``TIMEOUT_S``."""
        return self._processes.submit(self.name, query, k, filters)


def _build(factory: Factory) -> None:
    """A worker's initializer: build its retrievers (and close them at exit)."""
    import atexit
    import signal

    # Ctrl-C reaches the whole process group: the server stops its workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    retrievers, close = factory()
    _worker.update(retrievers)
    atexit.register(close)


def _ready() -> None:
    """Warm each retriever (load models, open files) with a throwaway search, then read its
    caches ahead (``warm.read_ahead``) while the worker answers searches."""
    for name, retriever in _worker.items():
        try:
            retriever.search("warm up", 1, SearchFilters())
        except Exception as exc:  # reported by the searches that follow, if it persists
            log.warning(
                "search worker warm-up failed", extra={"retriever": name, "error": str(exc)}
            )
    if not _state["warming"]:  # tasks run one at a time in a worker: no race
        _state["warming"] = True
        read_ahead(_worker)


def _search(name: str, query: str, k: int, filters: SearchFilters) -> Ranked:
    # Two plain lists: pickling a list of dataclasses cost the worker a tenth of its time.
    hits = _worker[name].search(query, k, filters)
    return [h.chunk_id for h in hits], [h.score for h in hits]
